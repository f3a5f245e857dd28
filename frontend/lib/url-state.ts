/**
 * The search in the address bar, so every search can be shared, reloaded and walked with
 * Back/Forward:
 *   q=words            a text search
 *   similar=17         "More like this" for indexed image 17
 *   term=2:t:dog       a combined query's terms, repeated, in order (uploads stay in memory)
 *   k=48               results per page (1..the API's max_top_k)
 *   min=0.25           minimum match (cosine); absent = off
 *   dedupe=1           collapse near-duplicates
 *   hybrid=0.5         weight of the caption match on text searches
 *   filter=year>=2020  a metadata filter expression (docs/filters.md, lib/filters.ts)
 *   sort=year:desc     order the relevant results by a metadata field
 *   cutoff=auto        the adaptive cutoff
 *   read=1             match the text read in an uploaded image (read_text)
 */

import { DEFAULT_PAGE_SIZE, parsePageSize } from "@/lib/config";
import type { ApiLimits, SearchOptions } from "@/lib/types";

export interface UrlState {
  text: string;
  similar: number | null;
  termParams: string[];
  options: SearchOptions;
}

/**
 * What a URL's query string asks for; bad values fall back to their defaults, and a page size over
 * the API's `max_top_k` to the default. The `term` values are parsed later (terms.ts).
 */
export function readUrlState(
  params: Pick<URLSearchParams, "get" | "getAll">,
  limits: Pick<ApiLimits, "max_top_k">,
): UrlState {
  return {
    text: params.get("q")?.trim() ?? "",
    similar: parseId(params.get("similar")),
    termParams: params.getAll("term").filter((term) => term.trim()),
    options: {
      pageSize: parsePageSize(params.get("k"), limits.max_top_k),
      minScore: parseFraction(params.get("min"), -1, 1),
      dedupe: params.get("dedupe") === "1" || params.get("dedupe") === "true",
      hybrid: parseFraction(params.get("hybrid"), 0, 1) ?? 0,
      filter: params.get("filter")?.trim() ?? "",
      sort: params.get("sort")?.trim() ?? "",
      cutoff: params.get("cutoff") === "auto",
      readText: params.get("read") === "1",
    },
  };
}

export interface UrlQuery {
  text?: string | null;
  similar?: number | null;
  termParams?: string[];
}

/**
 * Put a search in the address bar as a new history entry (Next.js syncs useSearchParams with
 * pushState). Returns false when the URL would not change.
 */
export function pushUrl(query: UrlQuery, options: SearchOptions): boolean {
  const next = new URLSearchParams();
  if (query.text) next.set("q", query.text);
  if (query.similar !== null && query.similar !== undefined) next.set("similar", String(query.similar));
  for (const term of query.termParams ?? []) next.append("term", term);
  if (options.pageSize !== DEFAULT_PAGE_SIZE) next.set("k", String(options.pageSize));
  if (options.minScore !== null) next.set("min", String(options.minScore));
  if (options.dedupe) next.set("dedupe", "1");
  if (options.hybrid > 0) next.set("hybrid", String(options.hybrid));
  if (options.filter.trim()) next.set("filter", options.filter.trim());
  if (options.sort.trim()) next.set("sort", options.sort.trim());
  if (options.cutoff) next.set("cutoff", "auto");
  if (options.readText) next.set("read", "1");
  const search = next.toString();
  const target = `${window.location.pathname}${search ? `?${search}` : ""}`;
  if (target === `${window.location.pathname}${window.location.search}`) return false;
  window.history.pushState(null, "", target);
  return true;
}

function parseId(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value.trim())) return null;
  const id = Number(value);
  return Number.isSafeInteger(id) ? id : null;
}

function parseFraction(value: string | null, low: number, high: number): number | null {
  if (value === null || value.trim() === "") return null;
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed >= low && parsed <= high ? parsed : null;
}
