"""The local engine: threads fetch and decode (and read text, with OCR) ahead of one encoder in
this process, in resumable chunks.

The work is cut into fixed chunks of the source list; each finished chunk is saved atomically under
``data_dir/.pipeline-work/<run key>/`` in the checkpoint format both engines share
(ingest/checkpoints.py), and a rerun with the same sources, encoder and OCR engine skips the chunks
already there. Batch boundaries depend only on a chunk's content, so a resumed run yields the same
vectors as an uninterrupted one.
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
from imagesearch.ingest.checkpoints import collect_files, merged_vectors, save_rows
from imagesearch.ingest.fetch import Fetcher
from imagesearch.ingest.ocr_stage import OcrStage
from imagesearch.ingest.prepare import SourcePreparer, run_key
from imagesearch.ingest.types import Embedded, PipelineOptions, StageTimes
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)


@dataclass
class _Decoded:
    position: int
    pixels: FloatArray | None
    error: str = ""
    facts: str = ""  # JSON (prepare.dumps_facts)


def embed_local(
    settings: Settings,
    encoder: Encoder,
    todo: Sequence[str],
    options: PipelineOptions,
    stages: StageTimes,
    ocr: OcrStage | None,
) -> tuple[Embedded, int]:
    """Fetch, decode (and read, with ``ocr``) and encode ``todo`` in this process, in resumable chunks.

    Returns (vectors, positions in ``todo``, failures) and the number of chunks resumed.
    """
    work_dir = _work_dir(settings, encoder, todo, ocr.engine.id if ocr is not None else "")
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
        _LocalRun(settings, encoder, todo, stages, ocr).encode_chunks(pending, work_dir, bar)
    if ocr is not None:
        stages.ocr += ocr.totals.seconds
        stages.ocr_timeouts += ocr.totals.timeouts
    chunks = [_chunk_path(work_dir, chunk) for chunk in range(n_chunks)]
    merged = merged_vectors(settings, encoder.dim, len(todo))
    return collect_files(chunks, len(todo), encoder.dim, merged), resumed


@dataclass
class _LocalRun:
    """One run of the local engine over ``sources``: threads fetch and decode ahead of the encoder."""

    settings: Settings
    encoder: Encoder
    sources: Sequence[str]
    stages: StageTimes
    ocr: OcrStage | None = None

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
        prepare = SourcePreparer(self.settings, self.encoder, fetcher, self.ocr)
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


def _work_dir(settings: Settings, encoder: Encoder, sources: Sequence[str], ocr_id: str) -> Path:
    # Chunk and batch sizes are part of it: they decide the batches, and so the exact floats; the
    # OCR engine decides the text stored with them.
    return settings.work_dir / run_key(
        encoder.id, str(settings.chunk_size), str(settings.batch_size), ocr_id, *sources
    )


def _chunk_path(work_dir: Path, chunk: int) -> Path:
    return work_dir / f"chunk-{chunk:06d}.npz"
