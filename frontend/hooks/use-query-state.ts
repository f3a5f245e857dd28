"use client";

/**
 * Which search the page shows, read from the URL (see url-state.ts) plus what a URL cannot hold:
 * an uploaded image, or a combined query with uploaded-image terms, kept in memory. Actions put
 * the next search in the URL as a new history entry; asking for the same URL again re-runs it.
 * The URL is read within the API's limits (page size, terms, weights: `limits`, from /health).
 */

import { useSearchParams } from "next/navigation";
import { useCallback, useMemo, useState } from "react";

import type { ApiClient } from "@/lib/api";
import { fileNameOf } from "@/lib/format";
import { paramsToTerms, termsToParams } from "@/lib/terms";
import type { ApiLimits, QueryImage, QueryTerm, SearchOptions, SearchQuery, SearchResult } from "@/lib/types";
import { pushUrl, readUrlState, type UrlQuery } from "@/lib/url-state";

/** What only memory holds: the last image or combined query searched with. */
type Pending = { kind: "image"; image: QueryImage } | { kind: "combined"; params: string[]; terms: QueryTerm[] };

/** The result "More like this" was asked of, so its preview and name are shown without a lookup. */
interface SimilarSeed {
  id: number;
  previewUrl: string;
  label: string;
}

export function useQueryState(api: ApiClient, limits: ApiLimits) {
  const params = useSearchParams();
  const { max_top_k: maxTopK, max_query_terms: maxTerms, max_term_weight: maxWeight } = limits;
  const url = useMemo(() => readUrlState(params, { max_top_k: maxTopK }), [params, maxTopK]);
  const [pending, setPending] = useState<Pending | null>(null);
  const [seed, setSeed] = useState<SimilarSeed | null>(null);
  // Bumped when a search is asked for again with an unchanged URL, so it runs again.
  const [nonce, setNonce] = useState(0);

  const { text, similar, termParams } = url;
  const termKey = termParams.join("\n");
  const query = useMemo<SearchQuery | null>(() => {
    void nonce;
    if (text) return { kind: "text", text };
    if (similar !== null) {
      const known = seed?.id === similar ? seed : null;
      return {
        kind: "similar",
        id: similar,
        previewUrl: known?.previewUrl ?? api.imageUrl(similar),
        label: known?.label ?? `Image #${similar}`,
      };
    }
    const combined = pending?.kind === "combined" ? pending : null;
    if (termKey) {
      // The terms run last (with their uploads and names) while the URL still shows them.
      if (combined && combined.params.join("\n") === termKey) return { kind: "combined", terms: combined.terms };
      const terms = paramsToTerms(termKey.split("\n"), api.imageUrl, {
        max_query_terms: maxTerms,
        max_term_weight: maxWeight,
      });
      return terms.length ? { kind: "combined", terms } : null;
    }
    if (combined && combined.params.length === 0) return { kind: "combined", terms: combined.terms };
    if (pending?.kind === "image") return { kind: "image", image: pending.image };
    return null;
  }, [text, similar, termKey, pending, seed, api, nonce, maxTerms, maxWeight]);

  const { pageSize, minScore, dedupe, hybrid, filter, sort, cutoff, readText } = url.options;
  const options = useMemo<SearchOptions>(
    () => ({ pageSize, minScore, dedupe, hybrid, filter, sort, cutoff, readText }),
    [pageSize, minScore, dedupe, hybrid, filter, sort, cutoff, readText],
  );

  const go = useCallback(
    (next: UrlQuery, nextOptions: SearchOptions = options) => {
      if (!pushUrl(next, nextOptions)) setNonce((n) => n + 1);
      window.scrollTo({ top: 0 });
    },
    [options],
  );

  const searchText = useCallback((words: string) => go({ text: words }), [go]);

  const searchImage = useCallback(
    (image: QueryImage) => {
      setPending((previous) => {
        if (previous?.kind === "image" && previous.image.previewUrl !== image.previewUrl) {
          URL.revokeObjectURL(previous.image.previewUrl);
        }
        return { kind: "image", image };
      });
      go({});
    },
    [go],
  );

  const searchSimilar = useCallback(
    (result: SearchResult) => {
      setSeed({ id: result.id, previewUrl: result.image_url, label: fileNameOf(result.source) });
      go({ similar: result.id });
    },
    [go],
  );

  const searchCombined = useCallback(
    (terms: QueryTerm[]) => {
      const shareable = termsToParams(terms);
      setPending({ kind: "combined", params: shareable, terms });
      go({ termParams: shareable });
    },
    [go],
  );

  /** The same search with other options (page size, minimum match, dedupe, hybrid, filter, sort, cutoff, read text). */
  const setOptions = useCallback(
    (change: Partial<SearchOptions>) => {
      pushUrl({ text, similar, termParams }, { ...options, ...change });
    },
    [text, similar, termParams, options],
  );

  const clear = useCallback(() => {
    setPending(null);
    go({});
  }, [go]);

  return { query, options, searchText, searchImage, searchSimilar, searchCombined, setOptions, clear };
}
