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
