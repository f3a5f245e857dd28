"use client";

/**
 * Search state for the results view: runs a query, pages through more results, retries.
 *
 * "Load more" asks for the next page of the same ranking with `offset` = the results already
 * shown, and appends it; the API's `has_more` says whether another page exists. A newer request
 * aborts the one before it.
 *
 * The first page also asks for the facets of the filter panel's fields. A field with values
 * chosen in the panel gets its facet from the same search without its own choice (one more
 * request, top_k 1, per such field), so its other values stay on offer with their counts: the
 * usual "disjunctive" facets (choosing "Ana" must not hide "Ben").
 *
 * When the API is busy (503 + Retry-After, its load shedding) a page is asked for again with
 * backoff (lib/retry.ts); meanwhile `busy` says which retry is coming, for the "busy, retrying"
 * state. A newer search aborts the controller, which also cancels a retry still waiting.
 */

import { useCallback, useRef, useState } from "react";

import { type ApiClient, isAbortError, type PageRequest, type TermInput } from "@/lib/api";
import { composeFilter, type MetadataFields, parseFilter, withoutField } from "@/lib/filters";
import { type BusyRetry, withBusyRetry } from "@/lib/retry";
import { hasText } from "@/lib/terms";
import type { Facet, SearchOptions, SearchQuery, SearchResponse, SearchResult } from "@/lib/types";

export interface SearchState {
  status: "idle" | "loading" | "success" | "error";
  query: SearchQuery | null;
  options: SearchOptions | null;
  results: SearchResult[];
  /** Whether the API said another page exists. */
  hasMore: boolean;
  /** The facets of the first page (field -> counts), when asked for. */
  facets: Record<string, Facet>;
  /** How many results are relevant, when a cutoff (adaptive or minimum match) bounds them. */
  total: number | null;
  /** The text the API read in an uploaded query image (`query_text`, with read_text); null: not read. */
  queryText: string | null;
  loadingMore: boolean;
  /** While the API is busy: the retry that is coming (the first page's); null otherwise. */
  busy: BusyRetry | null;
  error: unknown;
  loadMoreError: unknown;
}

const IDLE: SearchState = {
  status: "idle",
  query: null,
  options: null,
  results: [],
  hasMore: false,
  facets: {},
  total: null,
  queryText: null,
  loadingMore: false,
  busy: null,
  error: null,
  loadMoreError: null,
};

/** The weight `read_text` is sent with when the text of an uploaded image is matched. */
export const READ_TEXT_WEIGHT = 0.5;

/**
 * The request for one page of a query; `hybrid` only where the API accepts it (words), `readText`
 * only for an uploaded image.
 */
export function pageRequest(query: SearchQuery, options: SearchOptions, offset: number): PageRequest {
  const words = query.kind === "text" || (query.kind === "combined" && hasText(query.terms));
  return {
    topK: options.pageSize,
    offset,
    minScore: options.minScore,
    dedupe: options.dedupe,
    hybrid: words ? options.hybrid : 0,
    filter: options.filter,
    sort: options.sort,
    cutoff: options.cutoff,
    readText: query.kind === "image" && options.readText ? READ_TEXT_WEIGHT : 0,
  };
}

/** What the filter panel needs of a search: its fields' facets, and their types. */
export interface FacetRequest {
  fields: readonly string[];
  types: MetadataFields;
}

/** The first page with its facets; a field chosen in the panel counted without its own choice. */
async function fetchFirstPage(
  api: ApiClient,
  query: SearchQuery,
  page: PageRequest,
  facets: FacetRequest,
  signal: AbortSignal,
): Promise<SearchResponse> {
  const panel = parseFilter(page.filter ?? "", facets.types);
  const chosen = facets.fields.filter((field) => panel.values[field]?.length);
  const [response, ...own] = await Promise.all([
    fetchPage(api, query, { ...page, facets: facets.fields }, signal),
    ...chosen.map((field) => {
      const filter = composeFilter(withoutField(panel, field), facets.types);
      return fetchPage(api, query, { ...page, topK: 1, offset: 0, filter, sort: "", facets: [field] }, signal);
    }),
  ]);
  const merged = { ...response.facets };
  chosen.forEach((field, index) => {
    const facet = own[index].facets?.[field];
    if (facet) merged[field] = facet;
  });
  return { ...response, facets: merged };
}

function fetchPage(api: ApiClient, query: SearchQuery, page: PageRequest, signal: AbortSignal): Promise<SearchResponse> {
  switch (query.kind) {
    case "text":
      return api.searchText(query.text, page, signal);
    case "image":
      return api.searchImage(query.image.file, page, signal);
    case "similar":
      return api.similar(query.id, page, signal);
    case "combined":
      return api.searchCombined(
        query.terms.map((term): TermInput => {
          const weight = term.sign * term.weight;
          const source = term.source;
          if (source.kind === "text") return { text: source.text, weight };
          if (source.kind === "image_id") return { image_id: source.id, weight };
          return { file: source.image.file, weight };
        }),
        page,
        signal,
      );
  }
}

const NO_FACETS: FacetRequest = { fields: [], types: {} };

/** An API without `has_more` (older): a full page may be followed by more. */
function readHasMore(response: SearchResponse, page: PageRequest): boolean {
  return response.has_more ?? response.results.length >= page.topK;
}

export function useSearch(api: ApiClient) {
  const [state, setState] = useState<SearchState>(IDLE);
  const current = useRef<AbortController | null>(null);

  const begin = () => {
    current.current?.abort();
    const controller = new AbortController();
    current.current = controller;
    return controller;
  };

  const run = useCallback(
    async (query: SearchQuery, options: SearchOptions, facets: FacetRequest = NO_FACETS) => {
      const controller = begin();
      // The last facets stay while the next search runs, so the panel (and the chip just
      // clicked, with its focus) does not vanish and come back.
      setState((prev) => ({ ...IDLE, status: "loading", query, options, facets: prev.facets }));
      const page = pageRequest(query, options, 0);
      const onBusy = (busy: BusyRetry) => {
        if (current.current === controller) setState((prev) => ({ ...prev, busy }));
      };
      try {
        const response = await withBusyRetry(() => fetchFirstPage(api, query, page, facets, controller.signal), {
          signal: controller.signal,
          onBusy,
        });
        if (current.current !== controller) return;
        setState((prev) => ({
          ...prev,
          status: "success",
          busy: null,
          results: response.results,
          hasMore: readHasMore(response, page),
          facets: response.facets ?? {},
          total: response.total ?? null,
          queryText: response.query_text ?? null,
        }));
      } catch (error) {
        if (isAbortError(error) || current.current !== controller) return;
        setState((prev) => ({ ...prev, status: "error", busy: null, error }));
      }
    },
    [api],
  );

  const loadMore = useCallback(async () => {
    const { query, options, status, hasMore, loadingMore, results } = state;
    if (!query || !options || status !== "success" || !hasMore || loadingMore) return;
    const controller = begin();
    const page = pageRequest(query, options, results.length);
    setState((prev) => ({ ...prev, loadingMore: true, loadMoreError: null }));
    try {
      // Busy: retried the same way; the "Load more" button keeps showing that it is loading.
      const response = await withBusyRetry(() => fetchPage(api, query, page, controller.signal), {
        signal: controller.signal,
        onBusy: () => {},
      });
      if (current.current !== controller) return;
      setState((prev) => {
        // Pages of one stable ranking do not overlap; the filter only guards an index reload.
        const shown = new Set(prev.results.map((result) => result.id));
        const tail = response.results.filter((result) => !shown.has(result.id));
        return {
          ...prev,
          results: [...prev.results, ...tail],
          loadingMore: false,
          hasMore: tail.length > 0 && readHasMore(response, page),
        };
      });
    } catch (error) {
      if (isAbortError(error) || current.current !== controller) return;
      setState((prev) => ({ ...prev, loadingMore: false, loadMoreError: error }));
    }
  }, [state, api]);

  const reset = useCallback(() => {
    current.current?.abort();
    current.current = null;
    setState(IDLE);
  }, []);

  return { state, run, loadMore, reset };
}
