import { describe, expect, it } from "vitest";

import { DEFAULT_LIMITS, limitsOf } from "@/lib/limits";
import schema from "@/lib/openapi.json";
import type { HealthResponse } from "@/lib/types";

// The committed OpenAPI schema is generated from the backend's default settings (make api-types),
// and the limits the request models enforce are in it: the defaults must be those.
describe("DEFAULT_LIMITS", () => {
  const schemas = schema.components.schemas;
  const search = schema.paths["/search"].get.parameters;
  const param = (name: string) => search.find((parameter) => parameter.name === name)?.schema;

  it("are the limits of the backend's default settings, as its OpenAPI schema states them", () => {
    expect(DEFAULT_LIMITS.max_top_k).toBe(schemas.SearchRequest.properties.top_k.maximum);
    expect(DEFAULT_LIMITS.max_top_k).toBe(param("top_k")?.maximum);
    expect(DEFAULT_LIMITS.max_offset).toBe(schemas.SearchRequest.properties.offset.maximum);
    expect(DEFAULT_LIMITS.max_query_terms).toBe(schemas.SearchRequest.properties.terms.maxItems);
    expect(DEFAULT_LIMITS.max_term_weight).toBe(schemas.SearchTerm.properties.weight.maximum);
    expect(-DEFAULT_LIMITS.max_term_weight).toBe(schemas.SearchTerm.properties.weight.minimum);
    expect(DEFAULT_LIMITS.max_query_chars).toBe(param("query")?.maxLength);
    expect(DEFAULT_LIMITS.max_batch_queries).toBe(schemas.BatchRequest.properties.queries.maxItems);
    const file = schemas.Body_search_by_image_search_by_image_post.properties.file.description;
    expect(file).toBe(`image, at most ${DEFAULT_LIMITS.max_upload_bytes.toLocaleString("en-US")} bytes`);
  });

  it("name every limit /health reports", () => {
    expect(Object.keys(DEFAULT_LIMITS).sort()).toEqual(Object.keys(schemas.Limits.properties).sort());
    expect([...schemas.Limits.required].sort()).toEqual(Object.keys(DEFAULT_LIMITS).sort());
  });
});

describe("limitsOf", () => {
  const health = (limits: unknown) => ({ status: "ok", limits }) as unknown as HealthResponse;

  it("gives the defaults before /health has answered", () => {
    expect(limitsOf(null)).toEqual(DEFAULT_LIMITS);
    expect(limitsOf(undefined)).toEqual(DEFAULT_LIMITS);
  });

  it("takes what /health reports", () => {
    const reported = {
      max_top_k: 500,
      max_offset: 0,
      max_query_terms: 3,
      max_term_weight: 5,
      max_query_chars: 80,
      max_upload_bytes: 1000,
      max_batch_queries: 2,
      queue_budget_s: 0, // 0: load shedding off
    };
    expect(limitsOf(health(reported))).toEqual(reported);
  });

  it("keeps the default for a limit an older or odd API does not report as a positive number", () => {
    expect(limitsOf(health(undefined))).toEqual(DEFAULT_LIMITS);
    const odd = { max_top_k: "500", max_query_terms: 0, max_term_weight: -2, max_query_chars: null, max_offset: 7 };
    expect(limitsOf(health(odd))).toEqual({ ...DEFAULT_LIMITS, max_offset: 7 });
    expect(limitsOf(health({ max_top_k: Number.NaN, max_offset: -1 }))).toEqual(DEFAULT_LIMITS);
  });

  it("does not change the defaults", () => {
    const before = { ...DEFAULT_LIMITS };
    limitsOf(health({ max_top_k: 5 }));
    expect(DEFAULT_LIMITS).toEqual(before);
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
  });
});
