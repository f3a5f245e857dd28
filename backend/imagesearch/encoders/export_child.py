"""The API's export child: ``python -m imagesearch.encoders.export_child --lookup|--export|--rebuild``.

Everything the torch-free query encoder (onnx_serving.py) needs from torch happens here, in a
process that exits afterwards: resolving the weights and the encoder's identity as
``ClipEncoder`` does, verifying the cache entry (``--lookup``), or building the model and
exporting the entry (``--export``; ``--rebuild`` even when one is intact, tower_export.py).
Settings arrive as JSON on stdin; the answer is one JSON line on stdout (``status`` ok / missing
/ weights / config / unsupported / failed); the log goes to stderr, each line marked with this
process's pid.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from imagesearch.config import Settings
from imagesearch.encoders import tower_cache
from imagesearch.encoders.onnx_serving import QueryTowersUnavailableError
from imagesearch.encoders.tower_cache import TowerEntry
from imagesearch.encoders.tower_export import ModelParts, ensure_entry, entry_fields
from imagesearch.errors import EncoderUnavailableError, WeightsUnavailableError

if TYPE_CHECKING:
    from imagesearch.encoders.clip import ClipSpec

logger = logging.getLogger("imagesearch.encoders.export_child")  # also when run as __main__


def lookup(settings: Settings, spec: ClipSpec) -> TowerEntry | None:
    """The intact entry for ``settings`` if there is one (verified; nothing is built)."""
    folder = tower_cache.entry_folder(settings.cache_dir, tower_cache.entry_key(entry_fields(settings, spec)))
    try:
        with tower_cache.entry_lock(folder):  # not while another process writes it
            entry = tower_cache.read_entry(folder)
    except (tower_cache.EntryMissingError, OSError) as exc:
        logger.info("no intact query towers in the cache yet (%s)", exc)
        return None
    logger.info("query towers cached in %s (exported by pid %d)", folder, entry.exporter_pid)
    return entry


def answer_for(settings: Settings, mode: str) -> dict[str, Any]:
    """What the child does for ``mode`` (lookup / export / rebuild), as its JSON answer."""
    from imagesearch.encoders.clip import ClipEncoder, resolve_spec

    spec = resolve_spec(settings)
    if spec.device != "cpu":
        raise QueryTowersUnavailableError(f"the model runs on {spec.device}: queries stay on torch there")
    if mode == "lookup":
        found = lookup(settings, spec)
        if found is not None:
            return {"status": "ok", "entry": str(found.folder)}
        identity: dict[str, Any] = {
            "encoder_id": spec.id,
            "label": spec.label,
            "activation": spec.activation.name,
        }
        identity |= {"dim": spec.dim, "image_size": spec.image_size, "precision": settings.query_precision}
        return {"status": "missing", "identity": identity}

    def parts() -> ModelParts:
        torch_queries = settings.model_copy(update={"query_runtime": "torch", "query_precision": "fp32"})
        encoder = ClipEncoder(torch_queries, spec)
        return ModelParts(encoder.model, encoder.tokenizer, encoder.preprocess)

    return {"status": "ok", "entry": str(ensure_entry(settings, spec, parts, mode == "rebuild").folder)}


def exit_with_parent() -> None:
    """End this child when the process that started it is gone (an API stopped during an export
    must not leave a model and an export running behind it)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """The export child: settings (JSON) on stdin -> one JSON line on stdout; logs on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_mutually_exclusive_group(required=True)
    for mode, meaning in (
        ("lookup", "find the entry"),
        ("export", "make it if missing"),
        ("rebuild", "make it anew"),
    ):
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode, help=meaning)
    args = parser.parse_args(argv)
    log_format = "%(levelname)s %(name)s [export child pid %(process)d]: %(message)s"
    logging.basicConfig(level=logging.INFO, format=log_format)
    exit_with_parent()
    answer: dict[str, Any]
    try:
        answer = answer_for(Settings(**json.loads(sys.stdin.read())), args.mode)
    except WeightsUnavailableError as exc:
        answer = {"status": "weights", "message": str(exc)}
    except QueryTowersUnavailableError as exc:
        answer = {"status": "unsupported", "message": str(exc)}
    except EncoderUnavailableError as exc:
        answer = {"status": "config", "message": str(exc)}
    except Exception as exc:  # an export that fails: the parent decides (auto: torch queries)
        logger.exception("the query tower export failed")
        answer = {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer), flush=True)
    return 0 if answer["status"] in ("ok", "missing") else 1


if __name__ == "__main__":
    sys.exit(main())
