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

import logging
import shutil
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import SourceError
from imagesearch.index.factory import build_index
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import save_bundle
from imagesearch.ingest.checkpoints import collect, load_rows, save_rows
from imagesearch.ingest.fetch import Fetcher
from imagesearch.ingest.incremental import load_reusable, merge_reused, sources_to_encode
from imagesearch.ingest.outputs import (
    METADATA_PROBLEMS_NAME,
    combine_metadata,
    write_failures,
    write_problems,
)
from imagesearch.ingest.prepare import SourcePreparer, run_key
from imagesearch.ingest.sources import SourceRecords, read_records
from imagesearch.ingest.types import Embedded, PipelineOptions, PipelineReport, StageTimes
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)

# Callers import the options and the report from here, with the function they go with.
__all__ = ["Embedded", "PipelineOptions", "PipelineReport", "StageTimes", "run_pipeline"]


@dataclass
class _Decoded:
    position: int
    pixels: FloatArray | None
    error: str = ""
    facts: str = ""  # JSON (prepare.dumps_facts)


def run_pipeline(settings: Settings, options: PipelineOptions, encoder: Encoder) -> PipelineReport:
    """Build the index for ``options.source`` into ``settings.data_dir``."""
    started = time.perf_counter()
    stages = StageTimes()
    records = read_records(options.source, options.url_column, options.caption_columns, options.metadata)
    records = records.head(options.limit)
    sources = records.urls
    if not sources:
        raise SourceError(f"{options.source} lists no images")
    reusable = load_reusable(settings, encoder) if options.incremental else None
    todo = sources_to_encode(sources, reusable)
    stages.read_sources = time.perf_counter() - started

    embedded, resumed = _embed(settings, encoder, todo, options, stages)

    write_started = time.perf_counter()
    if reusable is not None:
        embedded = merge_reused(sources, reusable, embedded)
    positions, failures = embedded.positions, embedded.failures
    write_failures(settings.failures_path, failures, sources)
    write_problems(settings.data_dir / METADATA_PROBLEMS_NAME, records)
    if len(positions) == 0:
        raise SourceError(f"none of the {len(sources)} images could be read; see {settings.failures_path}")
    manifest = _save(settings, encoder, options, records, embedded)
    shutil.rmtree(settings.work_dir, ignore_errors=True)
    stages.write = time.perf_counter() - write_started
    return PipelineReport(
        total=len(sources),
        ok=len(positions),
        failed=len(failures),
        resumed_chunks=resumed,
        seconds=time.perf_counter() - started,
        stages=stages,
        manifest=manifest,
        failures=[(pos, sources[pos], err) for pos, err in failures],
        metadata_problems=len(records.problems),
    )


def _embed(
    settings: Settings, encoder: Encoder, todo: Sequence[str], options: PipelineOptions, stages: StageTimes
) -> tuple[Embedded, int]:
    """The chosen engine's (vectors, positions, failures) for ``todo``, and the chunks resumed."""
    if options.engine == "ray":
        # Optional extra: the local engine never imports Ray.
        from imagesearch.ingest.ray.engine import embed_with_ray

        return embed_with_ray(settings, encoder, todo, options, stages), 0
    return _embed_local(settings, encoder, todo, options, stages)


def _save(
    settings: Settings, encoder: Encoder, options: PipelineOptions, records: SourceRecords, embedded: Embedded
) -> Manifest:
    """Build the index from the vectors and commit it with its URLs, captions and manifest."""
    vectors, positions, failures, facts = embedded
    sources = records.urls
    urls = [sources[position] for position in positions]
    index, tuning = build_index(vectors, settings)
    return save_bundle(
        settings,
        index,
        urls,
        captions=records.captions_at(positions),
        metadata=combine_metadata(records.metadata_at(positions), facts),
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
        _LocalRun(settings, encoder, todo, stages).encode_chunks(pending, work_dir, bar)
    chunks = [_chunk_path(work_dir, chunk) for chunk in range(n_chunks)]
    return collect(load_rows(chunks, encoder.dim), len(todo)), resumed


@dataclass
class _LocalRun:
    """One run of the local engine over ``sources``: threads fetch and decode ahead of the encoder."""

    settings: Settings
    encoder: Encoder
    sources: Sequence[str]
    stages: StageTimes

    def encode_chunks(self, pending: Sequence[int], work_dir: Path, bar: tqdm[Any]) -> None:
        """Encode every pending chunk, saving each as soon as it is done."""
        size, count = self.settings.chunk_size, len(self.sources)
        positions = [p for k in pending for p in range(k * size, min((k + 1) * size, count))]
        work_dir.mkdir(parents=True, exist_ok=True)
        fetcher = Fetcher(self.settings)
        try:
            decoded = self._decode_stream(fetcher, positions)
            for chunk in pending:
                items = min((chunk + 1) * size, count) - chunk * size
                done, vectors = self._encode_next(decoded, items, bar)
                _save_chunk(_chunk_path(work_dir, chunk), done, vectors)
        finally:
            fetcher.close()

    def _encode_next(
        self, decoded: Iterator[_Decoded], count: int, bar: tqdm[Any]
    ) -> tuple[list[_Decoded], FloatArray]:
        """The next ``count`` decoded items, encoded in batches as they arrive (then the remainder),
        so the encoder works while the fetch threads decode ahead."""
        batch: list[_Decoded] = []
        done: list[_Decoded] = []
        vectors: list[FloatArray] = []
        for _ in range(count):
            wait_started = time.perf_counter()
            item = next(decoded)
            self.stages.wait_for_decode += time.perf_counter() - wait_started
            done.append(item)
            if item.pixels is not None:
                batch.append(item)
            if len(batch) == self.settings.batch_size:
                vectors.append(_encode(self.encoder, batch, self.stages))
                batch = []
            bar.update(1)
        vectors.append(_encode(self.encoder, batch, self.stages))
        return done, np.concatenate(vectors)

    def _decode_stream(self, fetcher: Fetcher, positions: Sequence[int]) -> Iterator[_Decoded]:
        """Fetch, decode and preprocess in a thread pool, yielding in order with bounded lookahead."""
        prepare = SourcePreparer(self.settings, self.encoder, fetcher)
        sources = self.sources

        def work(position: int) -> tuple[_Decoded, float]:
            started = time.perf_counter()
            pixels, error, facts = prepare(sources[position])
            return _Decoded(position, pixels, error, facts), time.perf_counter() - started

        settings = self.settings
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
                self.stages.fetch_decode += seconds
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
    """One chunk in the shared checkpoint format (ingest/checkpoints.py): a row per item."""
    rows = np.zeros((len(items), vectors.shape[1]), dtype=np.float32)
    ok = np.array([item.pixels is not None for item in items], dtype=bool)
    rows[ok] = vectors
    save_rows(
        path,
        {
            "position": np.array([item.position for item in items], dtype=np.int64),
            "vector": rows,
            "error": np.array([_row_error(item) for item in items], dtype=np.str_),
            "facts": np.array([item.facts for item in items], dtype=np.str_),
        },
    )


def _row_error(item: _Decoded) -> str:
    # An empty error marks a row that succeeded, so a failure always carries a message.
    return "" if item.pixels is not None else (item.error or "could not be read")


def _work_dir(settings: Settings, encoder: Encoder, sources: Sequence[str]) -> Path:
    # Chunk and batch sizes are part of it: they decide the batches, and so the exact floats.
    return settings.work_dir / run_key(
        encoder.id, str(settings.chunk_size), str(settings.batch_size), *sources
    )


def _chunk_path(work_dir: Path, chunk: int) -> Path:
    return work_dir / f"chunk-{chunk:06d}.npz"


def _pretrained_label(settings: Settings) -> str:
    # A checkpoint's path differs between machines; its name is the useful part.
    value = settings.pretrained
    return Path(value).name if Path(value).expanduser().is_file() else value
