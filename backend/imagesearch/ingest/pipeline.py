"""Offline embedding pipeline: sources -> fetch/decode (threads) -> encode batches -> index.

Alignment: a failed image is recorded as a failure and never gets a vector, and the URL list is
built from the positions of the images that did get one, so ``urls[i]`` (and ``captions[i]``,
when the source has captions) always describes vector ``i``. Resumability: the work is cut into
fixed chunks of the source list; each finished chunk is saved atomically under
``data_dir/.pipeline-work/<run key>/``, and a rerun with the same sources and encoder skips the
chunks already there. Batch boundaries depend only on a chunk's content, so a resumed run yields
the same vectors as an uninterrupted one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import shutil
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import ImageSearchError, SourceError
from imagesearch.files import write_bytes_atomic
from imagesearch.images import decode_image, draft_min_side
from imagesearch.index.factory import build_index
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import save_bundle
from imagesearch.ingest.fetch import Fetcher
from imagesearch.ingest.incremental import load_reusable, merge_reused, sources_to_encode
from imagesearch.ingest.sources import read_records
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineOptions:
    source: Path
    url_column: str | None = None
    caption_columns: tuple[str, ...] = ()  # empty: detected by name (tables.CAPTION_COLUMN_CANDIDATES)
    limit: int | None = None
    resume: bool = True
    incremental: bool = False  # reuse the existing index's vectors (see incremental.py)
    progress: bool | None = None  # None: a bar only on a terminal
    engine: Literal["local", "ray"] = "local"  # ray: Ray Data stages (imagesearch/ingest/ray/engine.py)
    ray_address: str | None = None  # None: RAY_ADDRESS, else a local Ray started for the run


@dataclass
class StageTimes:
    read_sources: float = 0.0
    fetch_decode: float = 0.0  # summed over workers
    wait_for_decode: float = 0.0  # encoder idle, waiting on I/O
    encode: float = 0.0
    write: float = 0.0


@dataclass
class PipelineReport:
    total: int
    ok: int
    failed: int
    resumed_chunks: int
    seconds: float
    stages: StageTimes
    manifest: Manifest
    failures: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        stage = self.stages
        return (
            f"{self.ok} images indexed, {self.failed} failed (of {self.total}); "
            f"{self.seconds:.1f} s total, {self.images_per_second:.1f} images/s; "
            f"sources {stage.read_sources:.1f} s, fetch+decode {stage.fetch_decode:.1f} "
            f"worker-s, encoder waiting on I/O {stage.wait_for_decode:.1f} s, encode "
            f"{stage.encode:.1f} s, write {stage.write:.1f} s; resumed chunks: {self.resumed_chunks}"
        )


@dataclass
class _Decoded:
    position: int
    pixels: FloatArray | None
    error: str = ""


def run_pipeline(settings: Settings, options: PipelineOptions, encoder: Encoder) -> PipelineReport:
    """Build the index for ``options.source`` into ``settings.data_dir``."""
    started = time.perf_counter()
    stages = StageTimes()
    records = read_records(options.source, options.url_column, options.caption_columns).head(options.limit)
    sources = records.urls
    if not sources:
        raise SourceError(f"{options.source} lists no images")
    reusable = load_reusable(settings, encoder) if options.incremental else None
    todo = sources_to_encode(sources, reusable)
    stages.read_sources = time.perf_counter() - started

    resumed = 0
    if options.engine == "ray":
        # Optional extra: the local engine never imports Ray.
        from imagesearch.ingest.ray.engine import embed_with_ray

        vectors, positions, failures = embed_with_ray(settings, encoder, todo, options, stages)
    else:
        (vectors, positions, failures), resumed = _embed_local(settings, encoder, todo, options, stages)

    write_started = time.perf_counter()
    if reusable is not None:
        vectors, positions, failures = merge_reused(sources, reusable, (vectors, positions, failures))
    _write_failures(settings.failures_path, failures, sources)
    if len(positions) == 0:
        raise SourceError(f"none of the {len(sources)} images could be read; see {settings.failures_path}")
    urls = [sources[position] for position in positions]
    index, tuning = build_index(vectors, settings)
    manifest = save_bundle(
        settings,
        index,
        urls,
        captions=records.captions_at(positions),
        manifest=Manifest(
            encoder_id=encoder.id,
            model="offline-fallback" if encoder.fallback else settings.model,
            pretrained="packaged" if encoder.fallback else _pretrained_label(settings),
            fallback=encoder.fallback,
            encoder_label=encoder.label,
            activation=encoder.activation,
            dim=encoder.dim,
            count=len(urls),
            index_type="",
            source=str(options.source),
            failed=len(failures),
            index_factory=tuning.factory,
            search_params=tuning.search_params,
            recall_at_10=tuning.recall_at_10,
            caption_columns=list(records.caption_columns),
        ),
    )
    shutil.rmtree(settings.work_dir, ignore_errors=True)
    stages.write = time.perf_counter() - write_started
    return PipelineReport(
        total=len(sources),
        ok=len(urls),
        failed=len(failures),
        resumed_chunks=resumed,
        seconds=time.perf_counter() - started,
        stages=stages,
        manifest=manifest,
        failures=[(pos, sources[pos], err) for pos, err in failures],
    )


Embedded = tuple[FloatArray, npt.NDArray[np.int64], list[tuple[int, str]]]


def _embed_local(
    settings: Settings, encoder: Encoder, todo: Sequence[str], options: PipelineOptions, stages: StageTimes
) -> tuple[Embedded, int]:
    """Fetch, decode and encode ``todo`` in this process, in resumable chunks.

    Returns (vectors, positions in ``todo``, failures) and the number of chunks resumed.
    """
    work_dir = _work_dir(settings, encoder, todo)
    if not options.resume:
        shutil.rmtree(work_dir, ignore_errors=True)
    chunk_size = settings.chunk_size
    n_chunks = -(-len(todo) // chunk_size)
    pending = [k for k in range(n_chunks) if not _chunk_path(work_dir, k).is_file()]
    resumed = n_chunks - len(pending)
    if resumed:
        logger.info("resuming: %d of %d chunks already encoded in %s", resumed, n_chunks, work_dir)
    with tqdm(
        total=len(todo),
        initial=min(resumed * chunk_size, len(todo)),
        unit="img",
        disable=(None if options.progress is None else not options.progress),
    ) as bar:
        _encode_chunks(settings, encoder, todo, pending, work_dir, stages, bar)
    return _collect_chunks(work_dir, n_chunks, encoder.dim), resumed


def _encode_chunks(
    settings: Settings,
    encoder: Encoder,
    sources: Sequence[str],
    pending: Sequence[int],
    work_dir: Path,
    stages: StageTimes,
    bar: tqdm[Any],
) -> None:
    """Encode every pending chunk, saving each as soon as it is done."""
    chunk_size = settings.chunk_size
    positions = [p for k in pending for p in range(k * chunk_size, min((k + 1) * chunk_size, len(sources)))]
    work_dir.mkdir(parents=True, exist_ok=True)
    fetcher = Fetcher(settings)
    try:
        decoded = _decode_stream(settings, encoder, fetcher, sources, positions, stages)
        for chunk in pending:
            end = min((chunk + 1) * chunk_size, len(sources))
            batch: list[_Decoded] = []
            done: list[_Decoded] = []
            vectors: list[FloatArray] = []
            for _ in range(chunk * chunk_size, end):
                wait_started = time.perf_counter()
                item = next(decoded)
                stages.wait_for_decode += time.perf_counter() - wait_started
                done.append(item)
                if item.pixels is not None:
                    batch.append(item)
                if len(batch) == settings.batch_size:
                    vectors.append(_encode(encoder, batch, stages))
                    batch = []
                bar.update(1)
            vectors.append(_encode(encoder, batch, stages))
            _save_chunk(_chunk_path(work_dir, chunk), done, np.concatenate(vectors))
    finally:
        fetcher.close()


def _decode_stream(
    settings: Settings,
    encoder: Encoder,
    fetcher: Fetcher,
    sources: Sequence[str],
    positions: Sequence[int],
    stages: StageTimes,
) -> Iterator[_Decoded]:
    """Fetch, decode and preprocess in a thread pool, yielding in order with bounded lookahead."""

    # Opt-in reduced-scale JPEG decode (IMAGESEARCH_JPEG_DRAFT_FACTOR), as for queries.
    min_side = draft_min_side(settings.jpeg_draft_factor, encoder.image_size)

    def work(position: int) -> tuple[_Decoded, float]:
        started = time.perf_counter()
        try:
            data = fetcher.fetch(sources[position])
            image = decode_image(data, settings.max_image_pixels, min_side)
            result = _Decoded(position, encoder.prepare(image))
        except ImageSearchError as exc:
            result = _Decoded(position, None, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # one odd file must not stop a long run; it is reported
            logger.warning("unexpected error on %s: %r", sources[position], exc)
            result = _Decoded(position, None, f"{type(exc).__name__}: {exc}")
        return result, time.perf_counter() - started

    lookahead = max(2 * settings.batch_size, 2 * settings.fetch_workers)
    with ThreadPoolExecutor(settings.fetch_workers, thread_name_prefix="fetch") as pool:
        queue: deque[Future[tuple[_Decoded, float]]] = deque()
        upcoming = iter(positions)
        for position in upcoming:
            queue.append(pool.submit(work, position))
            if len(queue) >= lookahead:
                break
        while queue:
            result, seconds = queue.popleft().result()
            stages.fetch_decode += seconds
            next_position = next(upcoming, None)
            if next_position is not None:
                queue.append(pool.submit(work, next_position))
            yield result


def _encode(encoder: Encoder, batch: list[_Decoded], stages: StageTimes) -> FloatArray:
    started = time.perf_counter()
    vectors = encoder.encode_prepared([item.pixels for item in batch if item.pixels is not None])
    stages.encode += time.perf_counter() - started
    return vectors


def _save_chunk(path: Path, items: list[_Decoded], vectors: FloatArray) -> None:
    ok = np.array([item.position for item in items if item.pixels is not None], dtype=np.int64)
    failed = [(item.position, item.error) for item in items if item.pixels is None]
    buffer = io.BytesIO()
    np.savez(buffer, positions=ok, vectors=vectors, failures=np.array(json.dumps(failed)))
    write_bytes_atomic(path, buffer.getvalue())


def _collect_chunks(
    work_dir: Path, n_chunks: int, dim: int
) -> tuple[FloatArray, npt.NDArray[np.int64], list[tuple[int, str]]]:
    vectors: list[FloatArray] = [np.zeros((0, dim), dtype=np.float32)]
    positions: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    failures: list[tuple[int, str]] = []
    for chunk in range(n_chunks):
        with np.load(_chunk_path(work_dir, chunk)) as saved:
            if saved["vectors"].shape != (len(saved["positions"]), dim):
                raise SourceError(f"checkpoint {chunk} does not fit this encoder; rerun with --no-resume")
            vectors.append(saved["vectors"])
            positions.append(saved["positions"])
            failures.extend((int(p), str(e)) for p, e in json.loads(str(saved["failures"])))
    return np.concatenate(vectors), np.concatenate(positions), failures


def _write_failures(path: Path, failures: list[tuple[int, str]], sources: Sequence[str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["position", "source", "error"])
    for position, error in failures:
        writer.writerow([position, sources[position], error])
    write_bytes_atomic(path, buffer.getvalue().encode())


def _work_dir(settings: Settings, encoder: Encoder, sources: Sequence[str]) -> Path:
    digest = hashlib.sha256()
    for part in (encoder.id, str(settings.chunk_size), str(settings.batch_size), *sources):
        digest.update(part.encode())
        digest.update(b"\0")
    return settings.work_dir / digest.hexdigest()[:16]


def _chunk_path(work_dir: Path, chunk: int) -> Path:
    return work_dir / f"chunk-{chunk:06d}.npz"


def _pretrained_label(settings: Settings) -> str:
    # A checkpoint's path differs between machines; its name is the useful part.
    value = settings.pretrained
    return Path(value).name if Path(value).expanduser().is_file() else value
