"""Settings: the only place that reads the environment.

Every setting is an environment variable with the prefix ``IMAGESEARCH_`` (for example
``IMAGESEARCH_DATA_DIR``); the pipeline and the API read the same class, so both always agree on
paths, model and limits.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BACKEND_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = BACKEND_DIR / "data"

INDEX_RELPATH = Path("faiss_index") / "image_index.faiss"
# A two-stage index's full float32 vectors (an IndexFlatIP), memory-mapped for exact re-ranking;
# its compressed first stage is the file at INDEX_RELPATH (index/index_files.py).
VECTORS_RELPATH = Path("faiss_index") / "image_vectors.faiss"
# Its first stage's inverted lists when they are kept on disk (8-bit PQ codes; index/on_disk.py).
LISTS_RELPATH = Path("faiss_index") / "image_lists.ivfdata"
URLS_RELPATH = Path("embeddings") / "image_urls.pkl"
MANIFEST_RELPATH = Path("manifest.json")
FAILURES_RELPATH = Path("pipeline_failures.csv")
WORK_RELPATH = Path(".pipeline-work")

MIN_API_KEY_CHARS = 16
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")  # visible ASCII: sent as an HTTP header value unchanged


class Settings(BaseSettings):
    """All tunables of the pipeline and the API (env prefix ``IMAGESEARCH_``)."""

    model_config = SettingsConfigDict(env_prefix="IMAGESEARCH_", extra="ignore")

    # Where the index, metadata and manifest live.
    data_dir: Path = DEFAULT_DATA_DIR

    # Encoder.
    encoder: Literal["auto", "clip", "fallback"] = Field(
        default="auto",
        description="auto: CLIP when its weights can be had, else the offline fallback (with a "
        "warning); clip / fallback: force one",
    )
    model: str = "ViT-B-32"
    pretrained: str = Field(
        default="openai",
        description="open_clip pretrained tag (downloaded and cached) or a checkpoint file path",
    )
    activation: Literal["auto", "quick_gelu", "gelu"] = Field(
        default="auto",
        description="activation the model is built with. auto: what the pretrained tag was trained "
        "with (QuickGELU for openai and the other QuickGELU tags, as open_clip's pretrained config "
        "declares), or for a checkpoint file the model config's (a '-quickgelu' model name); a "
        "checkpoint file does not record it, so set quick_gelu for OpenAI-trained weights in a file",
    )
    model_config_file: Path | None = Field(
        default=None, description="extra open_clip model config (JSON) to register, for custom archs"
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(default=32, ge=1, le=4096)
    hub_probe_timeout_s: float = Field(default=3.0, gt=0)
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "imagesearch",
        description="derived, re-creatable files (the fallback encoder's class embeddings)",
    )
    query_runtime: Literal["auto", "onnxruntime", "torch"] = Field(
        default="auto",
        description="runtime of the query towers on the CPU (text, uploaded images; the index is always "
        "torch fp32). auto: ONNX Runtime when installed (the same fp32 graphs, checked against torch "
        "at load, 1.3-1.6x faster), else torch; onnxruntime: required",
    )
    query_precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="int8: opt-in dynamically quantised query towers on ONNX Runtime, about 2x faster "
        "again but rankings change (top-10 overlap in bench/RESULTS.md); fp32: exact",
    )
    jpeg_draft_factor: int = Field(
        default=0,
        ge=0,
        le=16,
        description="decode JPEGs (queries and pipeline) at reduced scale while both sides stay >= "
        "this x the model input (0: off, full decode; not bit-exact, see bench/RESULTS.md)",
    )

    # API.
    cors_origins: Annotated[list[str], NoDecode] = ["http://localhost:3000", "http://127.0.0.1:3000"]
    default_top_k: int = Field(default=10, ge=1)
    max_top_k: int = Field(default=200, ge=1)
    max_query_chars: int = Field(default=500, ge=1)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    verify_checksums: bool = True
    request_timeout_s: float = Field(default=30.0, gt=0, description="longest search before a 503")
    queue_budget_s: float = Field(
        default=0.5,
        ge=0,
        description="longest a search may be expected to take (the measured cost of the searches "
        "admitted before it, and its own); past it the search is refused at once with 503 + "
        "Retry-After (load shedding, docs/reliability.md); 0: off, every search waits its turn (up to "
        "request_timeout_s)",
    )
    max_concurrent_searches: int = Field(
        default=16,
        ge=1,
        le=64,
        description="searches in progress at once (decoding uploads in parallel; concurrent text "
        "queries are encoded as one batch); more wait in FIFO order (fair tail latency)",
    )
    text_cache_size: int = Field(default=1024, ge=0, description="text query vectors kept (LRU); 0: off")
    result_cache_size: int = Field(
        default=1024, ge=0, description="text search result pages kept (LRU, per loaded index); 0: off"
    )
    faiss_threads: int = Field(
        default=1,
        ge=0,
        le=256,
        description="OpenMP threads per FAISS search in the API (0: as many as torch uses, all cores); one "
        "query scans fastest on one thread on a few cores",
    )

    # Pipeline fetching.
    fetch_workers: int = Field(default=16, ge=1, le=256)
    fetch_timeout_s: float = Field(default=15.0, gt=0)
    fetch_retries: int = Field(default=3, ge=0, le=10)
    max_image_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    user_agent: str = "imagesearch-pipeline/0.1 (+https://github.com/imagesearch/imagesearch)"
    chunk_size: int = Field(default=512, ge=1, description="images per resumable checkpoint")

    # Index choice and loading (see imagesearch/index/factory.py).
    index_memory_gb: float = Field(default=4.0, gt=0, description="RAM the index may use; picks the type")
    index_factory: str = Field(
        default="",
        description="force a FAISS factory string, e.g. 'IVF1024,Flat' or 'IVF1024,PQ64x4fs,RFlat'",
    )
    flat_max_vectors: int = Field(default=50_000, ge=0, description="exact search below this many vectors")
    index_target_recall: float = Field(default=0.95, gt=0, le=1, description="recall@10 the knobs aim at")
    mmap_min_bytes: int = Field(
        default=0,
        ge=0,
        description="memory-map index files at least this big (0: all): mapped pages are loaded on demand "
        "and shared by every worker process; an index under it is copied into each process",
    )
    admin_token: str | None = Field(default=None, description="enables POST /admin/reload (Bearer token)")

    # Access control for public deployments (imagesearch/api/access.py, docs/deployment.md).
    api_key: SecretStr | None = Field(
        default=None,
        description="require this key as the X-API-Key header on every route but /health/live (at least "
        f"{MIN_API_KEY_CHARS} visible ASCII characters); empty or unset: no key",
    )
    public_docs: bool = Field(
        default=True,
        description="with an api_key: /docs, /redoc and /openapi.json stay readable without it (they "
        "describe the API and hold no data; Swagger UI's Authorize then sends the key); false: they need it",
    )
    rate_limit: str = Field(
        default="",
        description="per-client request limit in the limits library's notation, e.g. '120/minute' or "
        "'10/second;500/hour' (client: remote address; counted per process); empty: none",
    )
    source_paths: Literal["relative", "absolute"] = Field(
        default="relative",
        description="local-file `source` values in results: relative to the indexed folder (never the "
        "server's absolute path), or absolute as stored",
    )

    # Serving with several worker processes (`uvicorn --workers N`), readiness and drain
    # (imagesearch/api/workers.py, api/readiness.py).
    run_dir: Path = Field(
        default=Path(tempfile.gettempdir()) / f"imagesearch-{os.getuid() if hasattr(os, 'getuid') else 0}",
        description="where the workers of one server share their metrics files and reload generation "
        "(a folder per server, named after its supervisor; stale ones are removed at start-up)",
    )
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="prometheus_client's own variable (no IMAGESEARCH_ prefix): set it to use that folder "
        "for the workers' metrics as it is (clearing it between runs is then the operator's job)",
    )
    drain_s: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="seconds between SIGTERM and closing the socket, while /health/ready answers 503 and "
        "searches are still served (lets a load balancer take the server out first); a second SIGTERM "
        "ends it",
    )

    # Search features (issue 8): pagination, dedupe, combined and batch queries.
    max_offset: int = Field(default=1000, ge=0, description="deepest offset a search page may start at")
    dedupe_threshold: float = Field(
        default=0.95, gt=0, le=1, description="image-to-image cosine at which results collapse (dedupe)"
    )
    max_query_terms: int = Field(default=8, ge=1, le=64, description="terms per POST /search query")
    max_batch_queries: int = Field(default=64, ge=1, le=1024, description="queries per POST /search/batch")
    cutoff_window: int = Field(
        default=100,
        ge=2,
        le=10_000,
        description="candidates cutoff=auto looks at: it keeps those before the largest drop among them",
    )

    # Distributed embedding on Ray (issue 7): `run_pipeline.py --engine ray`, imagesearch/ingest/ray/.
    ray_encode_actors: int = Field(
        default=0, ge=0, le=4096, description="encoder actors (0: one per GPU, or half the CPUs without GPUs)"
    )
    ray_decode_actors: int = Field(
        default=0, ge=0, le=4096, description="fetch/decode actors (0: the cluster's CPUs the encoders leave)"
    )
    ray_batch_size: int = Field(default=64, ge=1, le=65536, description="sources per Ray fetch/decode batch")

    # OCR (imagesearch/encoders/ocr.py): the text read in each image, matched lexically by search.
    ocr: bool = Field(default=False, description="read the text in every image while indexing (--ocr)")
    ocr_workers: int = Field(
        default=1, ge=1, le=64, description="images read at once, beside the fetch/decode workers"
    )
    ocr_engine: Literal["auto", "rapidocr", "tesseract"] = Field(
        default="auto",
        description="auto: RapidOCR (PP-OCRv4 on ONNX Runtime, chosen in bench/RESULTS.md) when installed, "
        "else Tesseract; rapidocr / tesseract: require one. The engine id goes into the manifest",
    )
    ocr_threads: int = Field(default=1, ge=1, le=256, description="intra-op threads per OCR call")
    ocr_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="per-image OCR budget; past it the image counts as having no text (RapidOCR checks "
        "it between stages, so it may overrun by one stage; Tesseract is killed at it)",
    )
    ocr_min_confidence: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="recognised lines (RapidOCR) or words (Tesseract) below this are dropped",
    )
    ocr_max_side: int = Field(
        default=1600,
        ge=64,
        le=10_000,
        description="longer side an image is downscaled to before OCR (bounds time)",
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _check_api_key(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None  # an empty variable (IMAGESEARCH_API_KEY=) means no key
        if not isinstance(raw, str) or len(raw) < MIN_API_KEY_CHARS or not _HEADER_SAFE.fullmatch(raw):
            raise ValueError(
                f"IMAGESEARCH_API_KEY must be at least {MIN_API_KEY_CHARS} visible ASCII characters (no "
                "spaces), e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return raw

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        if value.strip():
            from limits import parse_many  # only when a limit is set

            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(
                    f"IMAGESEARCH_RATE_LIMIT={value!r} is not a rate limit like '120/minute' or "
                    f"'10/second;500/hour': {exc}"
                ) from None
        return value.strip()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # Accept "a,b" from the environment as well as a JSON-like list from code.
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def index_path(self) -> Path:
        return self.data_dir / INDEX_RELPATH

    @property
    def vectors_path(self) -> Path:
        return self.data_dir / VECTORS_RELPATH

    @property
    def lists_path(self) -> Path:
        return self.data_dir / LISTS_RELPATH

    @property
    def urls_path(self) -> Path:
        return self.data_dir / URLS_RELPATH

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / MANIFEST_RELPATH

    @property
    def failures_path(self) -> Path:
        return self.data_dir / FAILURES_RELPATH

    @property
    def work_dir(self) -> Path:
        return self.data_dir / WORK_RELPATH
