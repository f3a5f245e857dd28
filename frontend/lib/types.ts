/**
 * Types of the app. The API's JSON shapes are not written here: they are the generated
 * `components["schemas"]` of lib/api-schema.ts (from the backend's OpenAPI schema, lib/openapi.json;
 * `make api-types` regenerates both, `make lint` fails when they drift), given the names the app
 * uses. What follows them is the UI's own state (queries, chips, options), written by hand.
 */

import type { components } from "@/lib/api-schema";

type Schemas = components["schemas"];

/** One ranked image: id, loadable `image_url`, cosine `score`, `source`, `caption`, `duplicates`. */
export type SearchResult = Schemas["SearchResult"];
/** One page of a ranking (GET /search, POST /search-by-image, GET /similar/{id}, POST /search). */
export type SearchResponse = Schemas["SearchResponse"];
/** One term of a combined query (POST /search): exactly one of text / image_id / image_b64. */
export type SearchTermRequest = Schemas["SearchTerm"];
/** The body of POST /search. */
export type CombinedSearchRequest = Schemas["SearchRequest"];
/** GET /health: the index, the encoder serving it, and the request limits (`limits`). */
export type HealthResponse = Schemas["HealthResponse"];
/** The request limits the API enforces, from its settings (HealthResponse.limits). */
export type ApiLimits = Schemas["Limits"];
/** Counts of one metadata field's values (or ranges) over the relevant results. */
export type Facet = Schemas["FacetModel"];
/** One value (`value`) or range (`from`..`to`) of a facet; `value: null` without `from` counts no value. */
export type FacetBucket = Schemas["FacetBucketModel"];
/** Every error answer: `detail` in words, and `errors` for invalid parameters. */
export type ErrorResponse = Schemas["ErrorResponse"];

/**
 * What a search is about: a text description, an uploaded image, an indexed image's neighbours
 * ("More like this"), or a combination of weighted terms (the query builder).
 */
export type SearchQuery =
  | { kind: "text"; text: string }
  | { kind: "image"; image: QueryImage }
  | { kind: "similar"; id: number; previewUrl: string; label: string }
  | { kind: "combined"; terms: QueryTerm[] };

/** An image file the person gave us (picked, dropped or pasted). */
export interface QueryImage {
  source: "file";
  file: File;
  /** An object URL of the file, for the preview. */
  previewUrl: string;
  label: string;
}

/** What one chip of the query builder stands for. */
export type TermSource =
  | { kind: "text"; text: string }
  | { kind: "image_id"; id: number; previewUrl: string; label: string }
  | { kind: "upload"; image: QueryImage };

/** A chip of the query builder: a term, "more like" (+1) or "less like" (-1) it, and how much. */
export interface QueryTerm {
  /** Stable React key. */
  key: string;
  source: TermSource;
  sign: 1 | -1;
  /** 1..the API's `max_term_weight`; the stepper offers 1×, 2×, 3×. */
  weight: number;
}

/** Ranking options shared by every search, kept in the URL. */
export interface SearchOptions {
  pageSize: number;
  /** Drop results below this cosine similarity; null = off. */
  minScore: number | null;
  /** Collapse near-duplicates into the best-scored one. */
  dedupe: boolean;
  /** Weight of the caption (BM25) match fused with CLIP on text; 0 = CLIP only. */
  hybrid: number;
  /** The metadata filter expression (docs/filters.md); "" = none. */
  filter: string;
  /** The metadata sort, `field:asc|desc`; "" = by relevance. */
  sort: string;
  /** The adaptive cutoff (`cutoff=auto`): only the results before the score curve's largest drop. */
  cutoff: boolean;
  /**
   * Match the text read in an uploaded query image against the captions and the text read in the
   * indexed images (`read_text`); only where /health reports an OCR engine.
   */
  readText: boolean;
}
