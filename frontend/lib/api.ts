/**
 * The search API client: the only module that calls `fetch`.
 *
 * Every failure becomes an ApiError whose `kind` says what went wrong (the network, the API's
 * answer, or an image that could not be downloaded), so the UI can explain it in words.
 */

import type { ErrorResponse, HealthResponse, SearchResponse } from "@/lib/types";

export type ApiErrorKind = "network" | "http" | "invalid-response" | "image-download";

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  /** HTTP status for kind "http" (and "image-download" when the server answered). */
  readonly status?: number;
  /** The API's own `detail` message, when it sent one. */
  readonly detail?: string;

  constructor(kind: ApiErrorKind, message: string, options: { status?: number; detail?: string } = {}) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = options.status;
    this.detail = options.detail;
  }
}

export interface ApiClient {
  readonly baseUrl: string;
  health(signal?: AbortSignal): Promise<HealthResponse>;
  searchText(query: string, topK: number, signal?: AbortSignal): Promise<SearchResponse>;
  searchImage(image: File, topK: number, signal?: AbortSignal): Promise<SearchResponse>;
  /** Download an image (e.g. a result's image_url) so it can be searched with. */
  downloadImage(url: string, signal?: AbortSignal): Promise<Blob>;
}

export function createApiClient(baseUrl: string): ApiClient {
  const url = (path: string, params?: Record<string, string | number>) => {
    const target = new URL(baseUrl + path);
    for (const [key, value] of Object.entries(params ?? {})) target.searchParams.set(key, String(value));
    return target.toString();
  };

  return {
    baseUrl,
    health: (signal) => requestJson<HealthResponse>(url("/health"), { signal }),
    searchText: (query, topK, signal) =>
      requestJson<SearchResponse>(url("/search", { query, top_k: topK }), { signal }),
    searchImage: (image, topK, signal) => {
      const form = new FormData();
      form.append("file", image, image.name || "image");
      return requestJson<SearchResponse>(url("/search-by-image", { top_k: topK }), {
        method: "POST",
        body: form,
        signal,
      });
    },
    downloadImage: async (imageUrl, signal) => {
      let response: Response;
      try {
        // no-store: the <img> tags may have cached this URL without CORS headers, and a cached
        // copy would then fail the CORS check of this fetch.
        response = await fetch(imageUrl, { signal, cache: "no-store" });
      } catch (error) {
        if (isAbortError(error)) throw error;
        throw new ApiError("image-download", `could not download ${imageUrl}`);
      }
      if (!response.ok) {
        throw new ApiError("image-download", `could not download ${imageUrl}`, { status: response.status });
      }
      return response.blob();
    },
  };
}

async function requestJson<T>(target: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(target, { ...init, headers: { Accept: "application/json" } });
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
    throw new ApiError("http", detail ?? `HTTP ${response.status}`, { status: response.status, detail });
  }
  if (body === undefined || body === null || typeof body !== "object") {
    throw new ApiError("invalid-response", "the API answered with something other than JSON");
  }
  return body as T;
}

function readDetail(body: unknown): string | undefined {
  const detail = (body as Partial<ErrorResponse> | undefined)?.detail;
  return typeof detail === "string" && detail.trim() ? detail.trim() : undefined;
}

/** An aborted request is not a failure: a newer search replaced it. */
export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}
