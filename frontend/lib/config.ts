/**
 * Configuration: the only module that reads the environment.
 *
 * NEXT_PUBLIC_API_BASE_URL is read by the Next.js server on each request (a dynamic lookup, so
 * `next build` does not freeze it into the bundle) and handed to the browser as a prop: one build
 * can be pointed at any backend when it is started.
 */

export const DEFAULT_API_BASE_URL = "http://127.0.0.1:8000";

/** The API's own limit on `top_k` (backend setting IMAGESEARCH_MAX_TOP_K). */
export const MAX_TOP_K = 200;

/** Choices of the "results per page" control; every one is within the API's limits. */
export const PAGE_SIZES = [12, 24, 48, 96] as const;
export const DEFAULT_PAGE_SIZE = 24;

/** Example searches offered before the first query. */
export const EXAMPLE_QUERIES = [
  "a dog playing on the beach",
  "city skyline at night",
  "a red sports car",
  "people hiking in the mountains",
  "a bowl of fresh fruit",
  "snowy forest at sunrise",
] as const;

/** The backend's base URL without a trailing slash. Server-side only (reads process.env). */
export function readApiBaseUrl(): string {
  // A variable name keeps Next.js from inlining the build-time value.
  const name = "NEXT_PUBLIC_API_BASE_URL";
  const raw = process.env[name]?.trim();
  return (raw || DEFAULT_API_BASE_URL).replace(/\/+$/, "");
}

/** A page size from the URL's `k` parameter, or the default when absent or out of range. */
export function parsePageSize(value: string | null): number {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed >= 1 && parsed <= MAX_TOP_K ? parsed : DEFAULT_PAGE_SIZE;
}
