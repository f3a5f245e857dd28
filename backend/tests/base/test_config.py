from pathlib import Path

import pytest

from imagesearch.config import DEFAULT_DATA_DIR, Settings


def test_defaults_match_the_seed() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.model == "ViT-B-32" and settings.pretrained == "openai"
    assert settings.index_path == DEFAULT_DATA_DIR / "faiss_index" / "image_index.faiss"
    assert settings.urls_path == DEFAULT_DATA_DIR / "embeddings" / "image_urls.pkl"
    assert DEFAULT_DATA_DIR.parent.name == "backend"  # resolved from the package, not the cwd


def test_environment_with_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMAGESEARCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IMAGESEARCH_MAX_TOP_K", "50")
    monkeypatch.setenv("IMAGESEARCH_CORS_ORIGINS", "http://a.example, http://b.example")
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.max_top_k == 50
    assert settings.cors_origins == ["http://a.example", "http://b.example"]
    assert settings.manifest_path == tmp_path / "manifest.json"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGESEARCH_DEVICE", "tpu")
    with pytest.raises(ValueError, match="device"):
        Settings()


def test_access_control_is_off_by_default_and_an_empty_key_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.api_key is None and settings.rate_limit == "" and settings.source_paths == "relative"
    monkeypatch.setenv("IMAGESEARCH_API_KEY", "")  # compose passes ${IMAGESEARCH_API_KEY:-}
    monkeypatch.setenv("IMAGESEARCH_RATE_LIMIT", " ")
    assert Settings().api_key is None and Settings().rate_limit == ""
    monkeypatch.setenv("IMAGESEARCH_API_KEY", "0123456789abcdef")
    key = Settings().api_key
    assert key is not None and key.get_secret_value() == "0123456789abcdef"
    assert "0123456789abcdef" not in repr(Settings())  # never printed with the settings


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("IMAGESEARCH_API_KEY", "too-short", "at least 16 visible ASCII characters"),
        ("IMAGESEARCH_API_KEY", "sixteen chars with spaces", "at least 16 visible ASCII characters"),
        ("IMAGESEARCH_API_KEY", "schlüssel-0123456789", "at least 16 visible ASCII characters"),
        ("IMAGESEARCH_RATE_LIMIT", "lots", "is not a rate limit like '120/minute'"),
        ("IMAGESEARCH_RATE_LIMIT", "120/fortnight", "is not a rate limit like '120/minute'"),
        ("IMAGESEARCH_SOURCE_PATHS", "hidden", "source_paths"),
    ],
)
def test_bad_access_settings_are_refused_with_a_message(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings()
