"""A manifest for an index built in a test: what save_bundle needs beside the build's tuning."""

from imagesearch.index.factory import IndexTuning
from imagesearch.index.manifest import Manifest


def manifest_for(tuning: IndexTuning) -> Manifest:
    """Placeholder encoder fields; the tuning's factory, knobs and recall (save_bundle fills in
    the counts, dimension, type and checksums)."""
    return Manifest(
        encoder_id="e",
        model="m",
        pretrained="p",
        dim=0,
        count=0,
        index_type="",
        index_factory=tuning.factory,
        search_params=tuning.search_params,
        recall_at_10=tuning.recall_at_10,
    )
