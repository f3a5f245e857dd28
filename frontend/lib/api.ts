/**
 * The search API client: the only module that calls `fetch`.
 *
 * Every failure becomes an ApiError whose `kind` says what went wrong (the network, or the API's
 * answer), so the UI can explain it in words.
 */

import { signImageId } from "@/lib/image-signature";
import type {
  CombinedSearchRequest,
  ErrorResponse,
  HealthResponse,
  SearchResponse,
  SearchTermRequest,
} from "@/lib/types";

export type ApiErrorKind = "network" | "http" | "invalid-response";

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  /** HTTP status for kind "http". */
  readonly status?: number;
  /** The API's own `detail` message, when it sent one. */
  readonly detail?: string;
  /** True when the API refused the metadata filter (an `errors` item of type "filter_invalid"). */
  readonly filterInvalid: boolean;
  /** Seconds the API asked to wait before retrying (its `Retry-After`: a 503 when busy). */
  readonly retryAfterS?: number;

  constructor(
    kind: ApiErrorKind,
    message: string,
    options: { status?: number; detail?: string; filterInvalid?: boolean; retryAfterS?: number } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = options.status;
    this.detail = options.detail;
    this.filterInvalid = options.filterInvalid ?? false;
    this.retryAfterS = options.retryAfterS;
  }
}

/** One page of a ranking: top_k results from rank `offset`, and how to filter/collapse them. */
export interface PageRequest {
  topK: number;
  offset: number;
  minScore: number | null;
  dedupe: boolean;
  /** Caption-match weight; sent only when above 0 (text searches on an index with captions). */
  hybrid?: number;
  /** Metadata filter expression (docs/filters.md); "" or absent: none. */
  filter?: string;
  /** Metadata sort, `field:asc|desc`; "" or absent: by relevance. */
  sort?: string;
  /** The adaptive cutoff (`cutoff=auto`). */
  cutoff?: boolean;
  /** Metadata fields to count values of (facets), over all relevant results. */
  facets?: readonly string[];
  /** Weight of the text read in an uploaded image (`read_text`, image searches only); 0 or absent: not read. */
  readText?: number;
}

/** A combined query's term before it is sent: an uploaded File is read as base64 first. */
export type TermInput =
  | { text: string; weight: number }
  | { image_id: number; weight: number }
  | { file: File; weight: number };

export interface ApiClient {
  readonly baseUrl: string;
  health(signal?: AbortSignal): Promise<HealthResponse>;
  searchText(query: string, page: PageRequest, signal?: AbortSignal): Promise<SearchResponse>;
  searchImage(image: File, page: PageRequest, signal?: AbortSignal): Promise<SearchResponse>;
  /** Neighbours of an indexed image, from its stored vector (GET /similar/{id}). */
  similar(id: number, page: PageRequest, signal?: AbortSignal): Promise<SearchResponse>;
  /** A weighted combination of words and images (POST /search). */
  searchCombined(terms: TermInput[], page: PageRequest, signal?: AbortSignal): Promise<SearchResponse>;
  /** The URL of an indexed image (the API serves it, or redirects to its origin); signed with a key. */
  imageUrl(id: number): string;
}

type Params = Record<string, string | number | boolean | null | undefined>;

/** The ranking parameters as query parameters; defaults are left out. */
function pageParams(page: PageRequest): Params {
  return {
    top_k: page.topK,
    offset: page.offset || undefined,
    min_score: page.minScore ?? undefined,
    dedupe: page.dedupe || undefined,
    hybrid: page.hybrid || undefined,
    filter: page.filter?.trim() || undefined,
    sort: page.sort?.trim() || undefined,
    cutoff: page.cutoff ? "auto" : undefined,
    facets: page.facets?.length ? page.facets.join(",") : undefined,
  };
}

/**
 * A client of the API at `baseUrl`. With `apiKey` (an API started with IMAGESEARCH_API_KEY) every
 * request carries it as X-API-Key, and image URLs carry their signature (lib/image-signature.ts).
 */
export function createApiClient(baseUrl: string, apiKey?: string): ApiClient {
  const auth: Record<string, string> = apiKey ? { "X-API-Key": apiKey } : {};
  const requestJson = <T>(target: string, init: RequestInit & { headers?: Record<string, string> }) =>
    request<T>(target, { ...init, headers: { ...auth, ...init.headers } });
  const url = (path: string, params?: Params) => {
    const target = new URL(baseUrl + path);
    for (const [key, value] of Object.entries(params ?? {})) {
      if (value !== undefined && value !== null) target.searchParams.set(key, String(value));
    }
    return target.toString();
  };

  return {
    baseUrl,
    health: (signal) => requestJson<HealthResponse>(url("/health"), { signal }),
    searchText: (query, page, signal) =>
      requestJson<SearchResponse>(url("/search", { query, ...pageParams(page) }), { signal }),
    searchImage: (image, page, signal) => {
      const form = new FormData();
      form.append("file", image, image.name || "image");
      const params = { ...pageParams({ ...page, hybrid: undefined }), read_text: page.readText || undefined };
      return requestJson<SearchResponse>(url("/search-by-image", params), { method: "POST", body: form, signal });
    },
    similar: (id, page, signal) =>
      requestJson<SearchResponse>(url(`/similar/${id}`, pageParams({ ...page, hybrid: undefined })), { signal }),
    searchCombined: async (terms, page, signal) => {
      const body: CombinedSearchRequest = {
        terms: await Promise.all(terms.map(toTermRequest)),
        top_k: page.topK,
        offset: page.offset,
        min_score: page.minScore,
        dedupe: page.dedupe,
        hybrid: page.hybrid ?? 0,
        filter: page.filter?.trim() || null,
        sort: page.sort?.trim() || null,
        cutoff: page.cutoff ? "auto" : null,
        facets: page.facets?.length ? [...page.facets] : undefined,
      };
      return requestJson<SearchResponse>(url("/search"), {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "Content-Type": "application/json" },
        signal,
      });
    },
    imageUrl: (id) => `${baseUrl}/images/${id}` + (apiKey ? `?sig=${signImageId(apiKey, id)}` : ""),
  };
}

async function request<T>(
  target: string,
  init: Omit<RequestInit, "headers"> & { headers?: Record<string, string> },
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(target, { ...init, headers: { ...init.headers, Accept: "application/json" } });
  } catch (error) {
    if (isAbortError(error)) throw error;
    throw new ApiError("network", `could not reach ${new URL(target).origin}`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (isAbortError(error)) throw error;
    body = undefined; // not JSON: judged below by the status
  }
  if (!response.ok) {
    const detail = readDetail(body);
    throw new ApiError("http", detail ?? `HTTP ${response.status}`, {
      status: response.status,
      detail,
      filterInvalid: isFilterError(body),
      retryAfterS: parseRetryAfter(response.headers.get("Retry-After")),
    });
  }
  if (body === undefined || body === null || typeof body !== "object") {
    throw new ApiError("invalid-response", "the API answered with something other than JSON");
  }
  return body as T;
}

async function toTermRequest(term: TermInput): Promise<SearchTermRequest> {
  if ("file" in term) return { image_b64: await readBase64(term.file), weight: term.weight };
  return term;
}

/** A file's bytes as base64, read in the browser (no data: URL prefix). */
export async function readBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  const chunk = 0x8000; // String.fromCharCode takes a bounded number of arguments
  for (let start = 0; start < bytes.length; start += chunk) {
    binary += String.fromCharCode(...bytes.subarray(start, start + chunk));
  }
  return btoa(binary);
}

/**
 * Seconds from a `Retry-After` header: delay-seconds, or an HTTP date (RFC 9110); undefined when
 * absent or unreadable. `now` is for dates (ms since the epoch). Cross-origin, the API must list
 * the header in Access-Control-Expose-Headers for the browser to show it (it does).
 */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  if (!/^[A-Za-z]{3}, /.test(value)) return undefined; // an IMF-fixdate: "Wed, 02 Dec 2026 06:00:05 GMT"
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

function readDetail(body: unknown): string | undefined {
  const detail = (body as Partial<ErrorResponse> | undefined)?.detail;
  return typeof detail === "string" && detail.trim() ? detail.trim() : undefined;
}

/** An aborted request is not a failure: a newer search replaced it. */
export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** Whether an error body says the metadata filter was at fault (the API's `filter_invalid` type). */
function isFilterError(body: unknown): boolean {
  if (typeof body !== "object" || body === null) return false;
  const errors = (body as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.some((item) => (item as { type?: unknown })?.type === "filter_invalid");
}
