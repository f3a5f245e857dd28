"""Distributed embedding on Ray Data (``run_pipeline.py --engine ray``).

Stages: a dataset of (position, source) rows -> ``map_batches`` fetch + decode + preprocess on CPU
actors (the same Fetcher, decode_image and ``Encoder.prepare`` as the local engine; a failure
becomes a row with an error, never a dropped row) -> ``map_batches`` encode on an actor pool, one
GPU per actor when the cluster has GPUs -> rows streamed back to the driver and saved as shards
under ``settings.work_dir / "ray-<run key>"`` (ingest/checkpoints.py) -> read back, sorted by position.
Every position must come back exactly once, so alignment holds as in the local engine; a rerun
with the same sources and encoder skips the positions already in shards. Workers get the driver's Settings and
the content of its model config file, and refuse to run with weights that differ from the
driver's (``Encoder.id``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import ray
import ray.data
import ray.exceptions
from PIL import Image
from tqdm import tqdm

from imagesearch import errors
from imagesearch.config import Settings
from imagesearch.encoders.factory import load_encoder
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import EncoderUnavailableError, ImageSearchError
from imagesearch.files import write_bytes_atomic
from imagesearch.ingest.checkpoints import (
    Rows,
    collect_files,
    load_rows,
    merged_vectors,
    ray_run_key,
    shard_paths,
    write_shard,
)
from imagesearch.ingest.fetch import Fetcher
from imagesearch.ingest.ocr_stage import OcrStage
from imagesearch.ingest.prepare import SourcePreparer
from imagesearch.ingest.ray.plan import ActorPlan, plan_actors
from imagesearch.ingest.types import Embedded, PipelineOptions, StageTimes

logger = logging.getLogger(__name__)

ModelConfigs = dict[str, bytes]  # file name -> content of the open_clip model configs to register


def embed_with_ray(
    settings: Settings,
    encoder: Encoder,
    todo: Sequence[str],
    options: PipelineOptions,
    stages: StageTimes,
    ocr_id: str = "",
) -> Embedded:
    """Fetch/decode (and, with ``settings.ocr``, read) and encode ``todo`` as Ray Data stages:
    (vectors, positions in todo, failures, facts). ``ocr_id``: the driver's OCR engine, which every
    worker must load too."""
    work_dir = settings.work_dir / f"ray-{ray_run_key(encoder, todo, ocr_id)}"
    if not options.resume:
        shutil.rmtree(work_dir, ignore_errors=True)
    done = load_rows(shard_paths(work_dir), encoder.dim, vectors=False)
    pending = np.setdiff1d(np.arange(len(todo), dtype=np.int64), done["position"])
    if len(done["position"]):
        logger.info(
            "resuming: %d of %d images already embedded in %s", len(done["position"]), len(todo), work_dir
        )
    if len(pending):
        started_here = _connect(options.ray_address)
        try:
            _run(_RayJob(settings, encoder, todo, options, stages, ocr_id), pending, work_dir)
        finally:
            if started_here:
                ray.shutdown()
    merged = merged_vectors(settings, encoder.dim, len(todo))
    return collect_files(shard_paths(work_dir), len(todo), encoder.dim, merged)


def _connect(address: str | None) -> bool:
    """Join the given cluster, else RAY_ADDRESS's, else start a local one; True if we called init."""
    if ray.is_initialized():
        if address:
            logger.info("Ray is already initialised in this process; using it, not %s", address)
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    logger.info("Ray: %s", f"connecting to {address}" if address else "starting a local cluster")
    ray.init(address=address, logging_level=logging.WARNING)
    return True


@dataclass(frozen=True)
class _RayJob:
    """One Ray run: what every stage needs to know."""

    settings: Settings
    encoder: Encoder
    todo: Sequence[str]
    options: PipelineOptions
    stages: StageTimes
    ocr_id: str = ""


def _plan(settings: Settings, pending: int) -> ActorPlan:
    """The actors for this run, from the live nodes' resources (ingest/ray/plan.py)."""
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]  # type: ignore[no-untyped-call]
    node_cpus = [float(res.get("CPU", 0)) for res in nodes if res.get("CPU", 0) > 0]
    return plan_actors(settings, pending, node_cpus, int(sum(res.get("GPU", 0) for res in nodes)))


def _dataset(job: _RayJob, plan: ActorPlan, pending: np.ndarray[Any, np.dtype[np.int64]]) -> Any:
    """The two Ray Data stages over the pending positions: fetch/decode actors, then encoders."""
    settings = job.settings
    configs = _model_configs(settings.model_config_file)
    rows = [{"position": int(position), "source": job.todo[position]} for position in pending]
    return (
        ray.data.from_items(rows, override_num_blocks=plan.blocks)
        .map_batches(
            _Prepare,
            fn_constructor_args=(settings, configs, job.encoder.id, job.ocr_id),
            batch_size=settings.ray_batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=plan.decoders),
            num_cpus=plan.cpu_share,
            udf_modifying_row_count=False,
        )
        .map_batches(
            _Encode,
            fn_constructor_args=(settings, configs, job.encoder.id),
            batch_size=settings.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=plan.encoders),
            num_cpus=plan.cpu_share,
            num_gpus=1 if plan.gpus else 0,
            udf_modifying_row_count=False,
        )
    )


def _run(job: _RayJob, pending: np.ndarray[Any, np.dtype[np.int64]], work_dir: Path) -> None:
    """Stream the stages' results into shards under ``work_dir`` as they arrive."""
    settings, options, stages = job.settings, job.options, job.stages
    context = ray.data.DataContext.get_current()
    show_bars = context.enable_progress_bars
    context.enable_progress_bars = sys.stderr.isatty() if options.progress is None else options.progress
    dataset = _dataset(job, _plan(settings, len(pending)), pending)
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        bars = None if options.progress is None else not options.progress
        with tqdm(total=len(pending), unit="img", disable=bars) as bar:
            for rows_out in dataset.iter_batches(batch_size=settings.chunk_size, batch_format="numpy"):
                batch = cast(Rows, rows_out)
                write_shard(work_dir, batch)
                stages.fetch_decode += float(batch["fetch_s"].sum())
                stages.encode += float(batch["encode_s"].sum())
                stages.ocr += float(batch["ocr_s"].sum())
                bar.update(len(batch["position"]))
    except ray.exceptions.RayError as exc:
        cause = _domain_cause(exc)
        if cause is not None:
            raise cause from exc
        raise
    finally:
        context.enable_progress_bars = show_bars


class _Prepare:
    """Ray Data stage 1 (CPU actor): fetch, decode and preprocess a batch of sources."""

    def __init__(self, settings: Settings, configs: ModelConfigs, expected_id: str, ocr_id: str) -> None:
        settings = _worker_settings(settings, configs, device="cpu")
        self._settings = settings
        self._encoder = _load_checked(settings, expected_id)  # for ``prepare``: the model's preprocessing
        self._shape = self._encoder.prepare(Image.new("RGB", (64, 64))).shape
        self._ocr = _load_ocr_checked(settings, ocr_id)
        # The local engine's step (ingest/prepare.py), so both engines build the same index.
        self._prepare = SourcePreparer(settings, self._encoder, Fetcher(settings), self._ocr)
        self._threads = ThreadPoolExecutor(settings.fetch_workers, thread_name_prefix="fetch")

    def __call__(self, batch: Rows) -> Rows:
        started = time.perf_counter()
        ocr_before = self._ocr.totals.seconds if self._ocr is not None else 0.0
        results = list(self._threads.map(self._prepare, [str(source) for source in batch["source"]]))
        ocr_seconds = (self._ocr.totals.seconds if self._ocr is not None else 0.0) - ocr_before
        pixels = np.zeros((len(results), *self._shape), dtype=np.float32)
        for row, (prepared, _, _) in enumerate(results):
            if prepared is not None:
                pixels[row] = prepared
        seconds = (time.perf_counter() - started) / max(1, len(results))
        return {
            "position": batch["position"].astype(np.int64),
            "pixels": pixels,
            "error": np.array([error for _, error, _ in results], dtype=object),
            "facts": np.array([facts for _, _, facts in results], dtype=object),
            "fetch_s": np.full(len(results), seconds),
            "ocr_s": np.full(len(results), ocr_seconds / max(1, len(results))),
        }


def _load_ocr_checked(settings: Settings, expected_id: str) -> OcrStage | None:
    """This worker's OCR, refused unless it is the driver's engine (None when the run reads no text)."""
    if not expected_id:
        return None
    ocr = OcrStage.load(settings)
    if ocr.engine.id != expected_id:
        ocr.close()
        raise EncoderUnavailableError(
            f"a Ray worker loaded the OCR engine {ocr.engine.id}, the driver {expected_id}: every node "
            "needs the same OCR package and settings"
        )
    return ocr


class _Encode:
    """Ray Data stage 2 (GPU actor when there are GPUs): encode the prepared images of a batch."""

    def __init__(self, settings: Settings, configs: ModelConfigs, expected_id: str) -> None:
        self._encoder = _load_checked(_worker_settings(settings, configs), expected_id)

    def __call__(self, batch: Rows) -> Rows:
        started = time.perf_counter()
        ok = np.array([not error for error in batch["error"]], dtype=bool)
        vectors = np.zeros((len(ok), self._encoder.dim), dtype=np.float32)
        vectors[ok] = self._encoder.encode_prepared(list(batch["pixels"][ok]))
        seconds = (time.perf_counter() - started) / max(1, len(ok))
        return {
            "position": batch["position"],
            "vector": vectors,
            "error": batch["error"],
            "facts": batch["facts"],
            "fetch_s": batch["fetch_s"],
            "ocr_s": batch["ocr_s"],
            "encode_s": np.full(len(ok), seconds),
        }


def _load_checked(settings: Settings, expected_id: str) -> Encoder:
    """The encoder, refused unless it is the driver's (a node with other weights, or the fallback)."""
    encoder = load_encoder(settings)
    if encoder.id != expected_id:
        raise EncoderUnavailableError(
            f"a Ray worker loaded {encoder.id}, the driver {expected_id}: every node needs the same "
            "weights (IMAGESEARCH_PRETRAINED must name the same file on every node)"
        )
    return encoder


def _worker_settings(settings: Settings, configs: ModelConfigs, **update: object) -> Settings:
    """The driver's settings, with its model config files written where this node can read them."""
    if configs:
        digest = hashlib.sha256(
            b"".join(name.encode() + content for name, content in sorted(configs.items()))
        )
        folder = Path(tempfile.gettempdir()) / f"imagesearch-model-configs-{digest.hexdigest()[:16]}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in configs.items():
            write_bytes_atomic(folder / name, content)
        update["model_config_file"] = folder
    return settings.model_copy(update=update)


def _model_configs(path: Path | None) -> ModelConfigs:
    if path is None:
        return {}
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    return {file.name: file.read_bytes() for file in files if file.is_file()}


def _domain_cause(exc: BaseException) -> ImageSearchError | None:
    """The ImageSearchError a worker raised, if that is what stopped the run.

    Ray passes a worker's exception to the driver as text inside its own error (an actor that
    fails in ``__init__`` keeps nothing else), so the last ``imagesearch.errors.X: message`` line
    of its traceback is read back into an ``X``.
    """
    matches = list(_WORKER_ERROR.finditer(str(exc)))
    found = matches[-1] if matches else None
    error_class = getattr(errors, found.group(1), None) if found else None
    if found and isinstance(error_class, type) and issubclass(error_class, ImageSearchError):
        return error_class(f"{found.group(2).strip()} (raised on a Ray worker)")
    return None


_WORKER_ERROR = re.compile(r"imagesearch\.errors\.(\w+): ([^\n]*)")
