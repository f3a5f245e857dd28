/**
 * Configuration: the only module that reads the environment.
 *
 * NEXT_PUBLIC_API_BASE_URL is read by the Next.js server on each request (a dynamic lookup, so
 * `next build` does not freeze it into the bundle) and handed to the browser as a prop: one build
 * can be pointed at any backend when it is started.
 *
 * NEXT_PUBLIC_API_KEY, read the same way, is the key an API started with IMAGESEARCH_API_KEY
 * requires: the browser sends it as X-API-Key. It is handed to every visitor's browser, so
 * anyone who can open the UI can read it (docs/deployment.md): it keeps out clients that were
 * never given the UI, not the UI's own users.
 */

export const DEFAULT_API_BASE_URL = "http://127.0.0.1:8000";

/** Choices of the "results per page" control (those over the API's `max_top_k` are not offered). */
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

/** The API key the browser sends (X-API-Key), or undefined. Server-side only (reads process.env). */
export function readApiKey(): string | undefined {
  const name = "NEXT_PUBLIC_API_KEY";
  return process.env[name]?.trim() || undefined;
}

/** The default page size within the API's `max_top_k`. */
export function defaultPageSize(maxTopK: number): number {
  return Math.max(1, Math.min(DEFAULT_PAGE_SIZE, maxTopK));
}

/** The page sizes to offer: those within `maxTopK`, and the current one (from a URL) in order. */
export function pageSizeChoices(current: number, maxTopK: number): number[] {
  const sizes: number[] = PAGE_SIZES.filter((size) => size <= maxTopK);
  return sizes.includes(current) ? sizes : [...sizes, current].sort((a, b) => a - b);
}

/**
 * A page size from the URL's `k` parameter: a whole number 1..`maxTopK` (the API's limit), else
 * the default.
 */
export function parsePageSize(value: string | null, maxTopK: number): number {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed >= 1 && parsed <= maxTopK ? parsed : defaultPageSize(maxTopK);
}
