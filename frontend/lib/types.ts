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
}

export interface SearchResponse {
  query: string;
  top_k: number;
  /** Best first. */
  results: SearchResult[];
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
}

export interface ErrorResponse {
  detail: string;
}

/** What a search is about: a text description, or an image (uploaded, dropped, pasted, or a result). */
export type SearchQuery =
  | { kind: "text"; text: string }
  | { kind: "image"; image: QueryImage };

/** An image to search with: a file the person gave us, or one of the results ("More like this"). */
export type QueryImage =
  | {
      source: "file";
      file: File;
      /** An object URL of the file, for the preview. */
      previewUrl: string;
      label: string;
    }
  | {
      source: "result";
      result: SearchResult;
      /** The result's image_url; its bytes are downloaded when the search runs. */
      previewUrl: string;
      label: string;
    };
