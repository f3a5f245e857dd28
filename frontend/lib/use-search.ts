"use client";

/**
 * Search state for the results view: runs a query, pages through more results, retries.
 *
 * The API has no offset parameter, so "load more" asks again with a larger top_k (up to the API's
 * limit) and appends the results it has not shown yet. A newer request aborts the one before it.
 */

import { useCallback, useRef, useState } from "react";

import { type ApiClient, isAbortError } from "@/lib/api";
import { MAX_TOP_K } from "@/lib/config";
import type { QueryImage, SearchQuery, SearchResponse, SearchResult } from "@/lib/types";

export interface SearchState {
  status: "idle" | "loading" | "success" | "error";
  query: SearchQuery | null;
  pageSize: number;
  results: SearchResult[];
  /** Whether asking for a larger top_k could return more results. */
  hasMore: boolean;
  loadingMore: boolean;
  error: unknown;
  loadMoreError: unknown;
}

const IDLE: SearchState = {
  status: "idle",
  query: null,
  pageSize: 0,
  results: [],
  hasMore: false,
  loadingMore: false,
  error: null,
  loadMoreError: null,
};

export function useSearch(api: ApiClient) {
  const [state, setState] = useState<SearchState>(IDLE);
  const current = useRef<AbortController | null>(null);
  // Bytes of "More like this" images, downloaded once per query image and reused by "load more".
  const downloads = useRef(new WeakMap<QueryImage, File>());

  const begin = () => {
    current.current?.abort();
    const controller = new AbortController();
    current.current = controller;
    return controller;
  };

  const fetchResults = useCallback(
    async (query: SearchQuery, topK: number, signal: AbortSignal): Promise<SearchResponse> => {
      if (query.kind === "text") return api.searchText(query.text, topK, signal);
      const image = query.image;
      let file = image.source === "file" ? image.file : downloads.current.get(image);
      if (!file && image.source === "result") {
        const blob = await api.downloadImage(image.result.image_url, signal);
        file = new File([blob], `result-${image.result.id}`, { type: blob.type });
        downloads.current.set(image, file);
      }
      return api.searchImage(file as File, topK, signal);
    },
    [api],
  );

  const run = useCallback(
    async (query: SearchQuery, pageSize: number) => {
      const controller = begin();
      setState({ ...IDLE, status: "loading", query, pageSize });
      try {
        const response = await fetchResults(query, pageSize, controller.signal);
        if (current.current !== controller) return;
        setState((prev) => ({
          ...prev,
          status: "success",
          results: response.results,
          hasMore: mayHaveMore(response.results.length, pageSize),
        }));
      } catch (error) {
        if (isAbortError(error) || current.current !== controller) return;
        setState((prev) => ({ ...prev, status: "error", error }));
      }
    },
    [fetchResults],
  );

  const loadMore = useCallback(async () => {
    const { query, status, hasMore, loadingMore, results, pageSize } = state;
    if (!query || status !== "success" || !hasMore || loadingMore) return;
    const controller = begin();
    const topK = Math.min(MAX_TOP_K, results.length + pageSize);
    setState((prev) => ({ ...prev, loadingMore: true, loadMoreError: null }));
    try {
      const response = await fetchResults(query, topK, controller.signal);
      if (current.current !== controller) return;
      setState((prev) => {
        const shown = new Set(prev.results.map((result) => result.id));
        const tail = response.results.filter((result) => !shown.has(result.id));
        return {
          ...prev,
          results: [...prev.results, ...tail],
          loadingMore: false,
          hasMore: tail.length > 0 && mayHaveMore(response.results.length, topK),
        };
      });
    } catch (error) {
      if (isAbortError(error) || current.current !== controller) return;
      setState((prev) => ({ ...prev, loadingMore: false, loadMoreError: error }));
    }
  }, [state, fetchResults]);

  const reset = useCallback(() => {
    current.current?.abort();
    current.current = null;
    setState(IDLE);
  }, []);

  return { state, run, loadMore, reset };
}

/** A full page means the index may hold more; the API's limit caps what can ever be asked. */
function mayHaveMore(returned: number, requested: number): boolean {
  return returned >= requested && requested < MAX_TOP_K;
}
