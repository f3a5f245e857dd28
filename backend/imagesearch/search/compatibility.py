"""Is this index searchable with this encoder? Vectors of two models (or of two activations of
one model) live in different spaces: refuse with a message that says which and what to do."""

from __future__ import annotations

from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import IndexLoadError
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import IndexBundle


def check_compatible(encoder: Encoder, bundle: IndexBundle) -> None:
    """Refuse to serve an index built by another model: its vectors live in another space."""
    manifest = bundle.manifest
    if manifest.encoder_id != encoder.id:
        if manifest.fallback != encoder.fallback:
            raise IndexLoadError(_fallback_mismatch(manifest.encoder_id, manifest.fallback, encoder))
        if not manifest.activation and encoder.id.startswith(f"{manifest.encoder_id}:"):
            raise IndexLoadError(_activation_mismatch(manifest, encoder))
        raise IndexLoadError(
            f"the index was built with {manifest.encoder_id} but the API is configured with "
            f"{encoder.id}; set IMAGESEARCH_MODEL / IMAGESEARCH_PRETRAINED to match, or rebuild"
        )
    if bundle.index.d != encoder.dim:
        raise IndexLoadError(f"index dimension {bundle.index.d} != encoder dimension {encoder.dim}")


def _activation_mismatch(manifest: Manifest, encoder: Encoder) -> str:
    """An index from before the activation followed the weights: same names, another network."""
    return (
        f"the index was built with {manifest.encoder_id}, which an earlier version built with plain "
        f"GELU although the weights {manifest.pretrained!r} were trained with QuickGELU (open_clip only "
        f"warned), so its vectors are not the model's; this process serves {encoder.id}. Rebuild the "
        f"index: `python run_pipeline.py {manifest.source or 'SOURCE'} --data-dir DATA_DIR` (or "
        "`make index SOURCE=...`; `make demo` rebuilds the demo index by itself)"
    )


def _fallback_mismatch(index_encoder: str, index_fallback: bool, encoder: Encoder) -> str:
    """CLIP and the offline fallback embed into different spaces: say which is which and the fix."""
    built = f"the offline fallback encoder ({index_encoder})" if index_fallback else f"CLIP ({index_encoder})"
    serving = f"the offline fallback encoder ({encoder.id})" if encoder.fallback else f"CLIP ({encoder.id})"
    force = "fallback" if index_fallback else "clip"
    return (
        f"the index was built with {built} but this process loaded {serving}; vectors of one "
        f"cannot be searched with the other. Rebuild the index with the encoder you want to "
        f"serve, or set IMAGESEARCH_ENCODER={force} to serve this index as it is"
    )
