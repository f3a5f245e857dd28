/**
 * Shapes of the search API's JSON, mirroring backend/imagesearch/api/schemas.py.
 * Optional fields are ones a newer backend may add; the UI works without them.
 */

export interface SearchResult {
  /** Position of the image in the index (vector id). */
  id: number;
  /** A URL the browser can load: the API's /images/{id} or the original http(s) URL. */
  image_url: string;
  /** Cosine similarity between the query and the image, -1..1, as the API returns it. */
  score: number;
  /** The source string stored at indexing time (URL or path). */
  source: string;
  /** A description stored with the image at indexing time (CSV `caption` column), or null. */
  caption?: string | null;
  /** Ids of near-duplicates collapsed into this result (dedupe=true); empty otherwise. */
  duplicates?: number[];
}

export interface SearchResponse {
  /** The query in words (e.g. `2×"dog" + image #17 − "grass"`, "similar to #17"). */
  query: string;
  top_k: number;
  /** Rank of the first result of this page in the whole ranking. */
  offset?: number;
  /** True when at least one more result exists after this page. */
  has_more?: boolean;
  min_score?: number | null;
  dedupe?: boolean;
  /** Best first (score, then id). */
  results: SearchResult[];
}

/** One term of a combined query (POST /search): exactly one of text / image_id / image_b64. */
export interface SearchTermRequest {
  text?: string;
  image_id?: number;
  /** Base64 of the image file's bytes. */
  image_b64?: string;
  /** -10..10, not 0: positive = more like, negative = less like. */
  weight: number;
}

export interface CombinedSearchRequest {
  terms: SearchTermRequest[];
  top_k: number;
  offset: number;
  min_score: number | null;
  dedupe: boolean;
  hybrid: number;
}

export interface HealthResponse {
  status: string;
  images: number;
  dimension: number;
  model: string;
  pretrained: string;
  encoder: string;
  index_type: string;
  created_at: string;
  /** True when the API serves a lower-quality fallback encoder instead of CLIP. */
  fallback?: boolean;
  /** A human-readable name for the encoder, when the API provides one. */
  encoder_label?: string;
  /** A sentence to show people about the encoder's quality, when the API provides one. */
  warning?: string | null;
  /** FAISS factory string the index was built from ("Flat": exact search). */
  index_factory?: string;
  /** Search-time knobs in use (efSearch / nprobe), tuned at build time. */
  search_params?: Record<string, number>;
  /** recall@10 against exact search, measured when the index was built. */
  recall_at_10?: number | null;
  /** True when the index has captions, so hybrid (caption + CLIP) text search is available. */
  captions?: boolean;
}

export interface ErrorResponse {
  detail: string;
}

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
  /** 1..10 (the API's limit); the stepper offers 1×, 2×, 3×. */
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
}
