import os
import pickle
from pathlib import Path

import pytest

from imagesearch.errors import IndexLoadError
from imagesearch.index.manifest import dumps_urls, loads_urls


def test_round_trip_keeps_order() -> None:
    urls = ["https://example.org/a.jpg", "/photos/b.png", "file:///c%20d.jpg"]
    assert loads_urls(dumps_urls(urls)) == urls


def test_standard_pickle_of_a_list_of_str_is_accepted() -> None:
    # The seed wrote image_urls.pkl with plain pickle.dump; those files must still load.
    assert loads_urls(pickle.dumps(["a", "b"], protocol=2)) == ["a", "b"]


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_code_running_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps([_Payload(marker)])
    with pytest.raises(IndexLoadError, match="refusing"):
        loads_urls(data)
    assert not marker.exists()


@pytest.mark.parametrize("value", [{"a": 1}, ["ok", 3], "just a string", None])
def test_other_shapes_are_refused(value: object) -> None:
    with pytest.raises(IndexLoadError):
        loads_urls(pickle.dumps(value))


def test_garbage_is_refused() -> None:
    with pytest.raises(IndexLoadError):
        loads_urls(b"\x80\x04garbage")
