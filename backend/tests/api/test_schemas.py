"""The request models the API builds for its settings: limits from the settings, every field described."""

from __future__ import annotations

import pytest

from imagesearch.api.app import create_app
from imagesearch.config import Settings

REQUEST_SCHEMAS = ("SearchRequest", "BatchRequest", "SearchTerm", "BatchQuery")


@pytest.fixture(scope="module")
def components() -> dict[str, dict]:
    limits = {"max_top_k": 37, "max_offset": 120, "max_query_terms": 5, "max_batch_queries": 9}
    settings = Settings(**limits, max_query_chars=77)
    return create_app(settings).openapi()["components"]["schemas"]


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_every_request_field_keeps_its_description(components: dict[str, dict], name: str) -> None:
    properties = components[name]["properties"]
    undescribed = [field for field, schema in properties.items() if not schema.get("description")]
    assert not undescribed, f"{name}: no description for {undescribed}"


def test_the_limits_come_from_the_settings(components: dict[str, dict]) -> None:
    search, batch = components["SearchRequest"]["properties"], components["BatchRequest"]["properties"]
    assert search["top_k"]["maximum"] == batch["top_k"]["maximum"] == 37
    assert search["offset"]["maximum"] == 120
    assert search["terms"]["maxItems"] == 5
    assert batch["queries"]["maxItems"] == 9
    text = components["SearchTerm"]["properties"]["text"]["anyOf"][0]
    assert text["maxLength"] == 77 and text["minLength"] == 1
