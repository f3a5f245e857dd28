"""Vectors for bench_scale.py, generated chunk by chunk into .npy memory maps and reused.

- ``synthetic``: bench_ann.py's ``clustered()`` (2,000 isotropic Gaussian clusters in 512-d),
  streamed: the same recipe and random stream, so the first rows equal ``clustered(n, seed)``.
- ``fitted``: a mixture fitted to real image features: the project's offline fallback encoder
  (EfficientNet-Lite0 + MiniLM, what indexes images here without CLIP weights) run on the Tux Paint
  stamps and on Fashion-MNIST (Debian packages), reduced to 512-d, k-means clusters, each with
  its own low-rank covariance; 2,000 sub-centres drawn from the clusters give local structure
  (near-duplicates, same object) that a few real clusters alone would not have at 10M points.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from PIL import Image

from imagesearch.config import Settings

logger = logging.getLogger("bench_scale")

DIM = 512
CHUNK = 100_000
TUX_STAMPS = Path("/usr/share/tuxpaint/stamps")
FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
FASHION_IMAGES = 1000  # the first test images (all 10 classes); more only costs encoder time
CLUSTERS = 32  # ~55 real images per cluster: enough for a rank-16 covariance each
RANK = 16
SUB_CENTRES = 2000
SUB_SHARE = 0.5  # share of a cluster's covariance between its sub-centres (the rest within them)


def synthetic_chunks(n: int, seed: int, centres: int = 2000) -> Iterator[np.ndarray]:
    """bench_ann.clustered(n, seed) in chunks of CHUNK rows: (rows, 512) float32 unit vectors."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(12345).normal(size=(centres, DIM)).astype(np.float32)
    spread = np.random.default_rng(54321).uniform(0.6, 1.4, size=centres).astype(np.float32)
    for start in range(0, n, CHUNK):
        labels = rng.integers(0, centres, min(CHUNK, n - start))
        block = means[labels] + spread[labels, None] * rng.normal(size=(len(labels), DIM)).astype(np.float32)
        yield block / np.linalg.norm(block, axis=1, keepdims=True)


def chunks_of(vectors: np.ndarray) -> Iterator[np.ndarray]:
    """CHUNK rows at a time of a (memory-mapped) array, so only one chunk is read in at once."""
    for start in range(0, len(vectors), CHUNK):
        yield vectors[start : start + CHUNK]


def materialise(path: Path, n: int, chunks: Iterator[np.ndarray]) -> np.ndarray:
    """The (n, 512) float32 memory map at ``path``, written from ``chunks`` once (then reused):
    written under a temporary name and renamed, so an interrupted run never leaves a short file."""
    if not path.exists():
        partial = path.with_suffix(".partial.npy")
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(n, DIM))
        start = 0
        for chunk in chunks:
            out[start : start + len(chunk)] = chunk
            start += len(chunk)
        out.flush()
        del out
        partial.rename(path)
    return np.load(path, mmap_mode="r")


@dataclass(frozen=True)
class FittedModel:
    """A mixture of low-rank Gaussians over 512-d unit vectors, with sub-centres."""

    weights: np.ndarray  # (S,) probability of each sub-centre
    cluster: np.ndarray  # (S,) the cluster each sub-centre belongs to
    centres: np.ndarray  # (S, 512) sub-centre positions
    bases: np.ndarray  # (K, RANK, 512) principal directions times their standard deviations
    noise: np.ndarray  # (K,) per-dimension std of what the rank leaves


def fitted_chunks(model: FittedModel, n: int, seed: int) -> Iterator[np.ndarray]:
    """n unit vectors (chunks of CHUNK rows) from ``model``; chunk i uses seed (seed, i)."""
    within = np.sqrt(1.0 - SUB_SHARE)
    for number, start in enumerate(range(0, n, CHUNK)):
        rng = np.random.default_rng([seed, number])
        rows = min(CHUNK, n - start)
        subs = rng.choice(len(model.weights), rows, p=model.weights)
        block = model.centres[subs].astype(np.float32)
        clusters = model.cluster[subs]
        for cluster in np.unique(clusters):
            members = np.flatnonzero(clusters == cluster)
            z = rng.normal(size=(len(members), RANK)).astype(np.float32)
            iso = rng.normal(size=(len(members), DIM)).astype(np.float32) * model.noise[cluster]
            block[members] += within * (z @ model.bases[cluster] + iso)
        yield block / np.linalg.norm(block, axis=1, keepdims=True)


def real_features(work_dir: Path) -> np.ndarray:
    """The fallback encoder's vectors (N, 1664) of the real images, computed once and cached."""
    path = work_dir / "real-features.npy"
    if path.exists():
        return np.load(path)
    import torch

    from imagesearch.encoders.fallback import FallbackEncoder

    torch.set_num_threads(1)  # polite to a shared machine: ~1 min more for 1,800 images
    started = time.perf_counter()
    encoder = FallbackEncoder(Settings(cache_dir=work_dir / "encoder-cache", batch_size=32))
    images = [*_tux_stamps(), *_fashion_images()]
    features = encoder.encode_images(images)
    np.save(path, features)
    logger.info("encoded %d real images in %.0f s", len(images), time.perf_counter() - started)
    return features


def _tux_stamps() -> list[Image.Image]:
    """The Tux Paint stamp PNGs (Debian tuxpaint-stamps-default), flattened onto white."""
    images = []
    for file in sorted(TUX_STAMPS.rglob("*.png")):
        with Image.open(file) as image:
            rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        images.append(Image.alpha_composite(white, rgba).convert("RGB"))
    if not images:
        raise SystemExit(f"no stamps in {TUX_STAMPS}: apt-get install tuxpaint-stamps-default")
    return images


def _fashion_images() -> list[Image.Image]:
    """The first FASHION_IMAGES Fashion-MNIST test images (Debian dataset-fashion-mnist), 28x28 IDX."""
    if not FASHION.exists():
        raise SystemExit(f"no {FASHION}: apt-get install dataset-fashion-mnist")
    with gzip.open(FASHION) as handle:
        pixels = np.frombuffer(handle.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    return [Image.fromarray(255 - image).convert("RGB") for image in pixels[:FASHION_IMAGES]]


def reduce_real(features: np.ndarray) -> np.ndarray:
    """(N, 1664) -> (N, 512) unit vectors: onto the mean direction and the top 511 principal
    directions (kept uncentred, so the common component that makes CLIP-like cosines positive stays)."""
    mean = features.mean(axis=0)
    _, _, directions = np.linalg.svd(features - mean, full_matrices=False)
    basis, _ = np.linalg.qr(np.vstack([mean, directions[: DIM - 1]]).T)
    reduced = (features @ basis).astype(np.float32)
    return reduced / np.linalg.norm(reduced, axis=1, keepdims=True)


def fit_model(real: np.ndarray, seed: int = 0) -> FittedModel:
    """k-means clusters of ``real`` (N, 512) unit vectors, a rank-RANK covariance + isotropic rest
    each, and SUB_CENTRES sub-centres drawn from them (SUB_SHARE of each covariance)."""
    kmeans = faiss.Kmeans(DIM, CLUSTERS, niter=25, seed=seed, spherical=False)
    kmeans.train(real)
    labels = kmeans.index.search(real, 1)[1].ravel()
    counts = np.bincount(labels, minlength=CLUSTERS).astype(np.float64)
    bases = np.zeros((CLUSTERS, RANK, DIM), dtype=np.float32)
    noise = np.zeros(CLUSTERS, dtype=np.float32)
    for cluster in np.flatnonzero(counts > 1):
        residual = real[labels == cluster] - kmeans.centroids[cluster]
        _, values, directions = np.linalg.svd(residual, full_matrices=False)
        variances = values**2 / (len(residual) - 1)
        rank = min(RANK, len(variances))
        bases[cluster, :rank] = directions[:rank] * np.sqrt(variances[:rank])[:, None]
        noise[cluster] = np.sqrt(variances[rank:].sum() / (DIM - rank))
    rng = np.random.default_rng(seed)
    cluster_of = rng.choice(CLUSTERS, SUB_CENTRES, p=counts / counts.sum())
    centres = kmeans.centroids[cluster_of].astype(np.float32)
    for cluster in np.unique(cluster_of):
        members = np.flatnonzero(cluster_of == cluster)
        z = rng.normal(size=(len(members), RANK)).astype(np.float32)
        iso = rng.normal(size=(len(members), DIM)).astype(np.float32) * noise[cluster]
        centres[members] += np.sqrt(SUB_SHARE) * (z @ bases[cluster] + iso)
    weights = np.full(SUB_CENTRES, 1.0 / SUB_CENTRES)
    return FittedModel(weights=weights, cluster=cluster_of, centres=centres, bases=bases, noise=noise)


def describe_fit(real: np.ndarray, model: FittedModel) -> list[str]:
    """Real vs generated at the real set's size: variance spectrum and neighbour cosines."""
    generated = next(fitted_chunks(model, len(real), seed=99))
    lines = [
        f"fitted model vs {len(real)} real image vectors (512-d, unit), generated sample of the same size:"
    ]
    for name, data in (("real", real), ("generated", generated)):
        values = np.linalg.svd(data - data.mean(axis=0), compute_uv=False) ** 2
        share = np.cumsum(values) / values.sum()
        flat = faiss.IndexFlatIP(DIM)
        flat.add(data)
        scores = flat.search(data, 11)[0]  # column 0 is the vector itself
        lines.append(
            f"  {name:9s}: variance in top 10/50/100 components {share[9]:.2f}/{share[49]:.2f}/"
            f"{share[99]:.2f}; cosine to 1st/10th neighbour {scores[:, 1].mean():.3f}/"
            f"{scores[:, 10].mean():.3f}; mean pairwise cosine {float(np.sum(data.mean(axis=0) ** 2)):.3f}"
        )
    return lines
