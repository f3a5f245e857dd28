"""The checkpoint format both engines share: rows saved, read back in position order, checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagesearch.errors import SourceError
from imagesearch.ingest.checkpoints import collect, load_rows, save_rows, shard_paths, write_shard


def test_rows_come_back_in_position_order_with_failures_apart(tmp_path: Path) -> None:
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_rows(
        tmp_path / "chunk-000001.npz",
        {"position": np.array([3, 4, 5]), "vector": vectors, "error": np.array(["", "HTTP 404", ""])},
    )
    save_rows(
        tmp_path / "chunk-000000.npz",
        {"position": np.array([0, 1, 2]), "vector": -vectors, "error": np.array(["", "", ""])},
    )
    rows = load_rows(sorted(tmp_path.glob("chunk-*.npz"), reverse=True), 4)
    kept, positions, failures, facts = collect(rows, 6)
    assert facts.rows == 5 and facts.fields == {}  # rows saved without facts have none
    assert positions.tolist() == [0, 1, 2, 3, 5]
    np.testing.assert_array_equal(kept, np.concatenate([-vectors, vectors[[0, 2]]]))
    assert failures == [(4, "HTTP 404")]


def test_a_checkpoint_of_another_width_is_refused(tmp_path: Path) -> None:
    rows = {"position": np.array([0]), "vector": np.ones((1, 8)), "error": np.array([""])}
    save_rows(tmp_path / "c.npz", rows)
    with pytest.raises(SourceError, match="does not fit this encoder"):
        load_rows([tmp_path / "c.npz"], 4)


def test_a_lost_or_repeated_row_stops_the_run_instead_of_shifting_alignment(tmp_path: Path) -> None:
    def shard(positions: list[int]) -> None:
        rows = {
            "position": np.array(positions),
            "vector": np.ones((len(positions), 4), dtype=np.float32),
            "error": np.array([""] * len(positions), dtype=object),
        }
        write_shard(tmp_path, rows)

    shard([0, 2])
    with pytest.raises(SourceError, match="hold 2 rows for 3 images"):
        collect(load_rows(shard_paths(tmp_path), 4), 3)
    shard([1, 2])
    with pytest.raises(SourceError, match="hold 4 rows for 3 images"):
        collect(load_rows(shard_paths(tmp_path), 4), 3)
