"use client";

/**
 * The search page: wires the URL (text query `q`, page size `k`), the image query, the API calls
 * and the views. The text query lives in the URL so searches can be shared, reloaded and walked
 * with Back/Forward; an image cannot, so it is kept in memory.
 */

import { useSearchParams } from "next/navigation";
import { type ChangeEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";

import { NoResults, Welcome } from "@/components/empty-state";
import { ErrorState } from "@/components/error-state";
import { DropOverlay, useImageDropAndPaste } from "@/components/image-drop";
import { QueryImageCard } from "@/components/query-image-card";
import { ResultGrid } from "@/components/result-grid";
import { GRID_CLASSES, SkeletonCards } from "@/components/result-skeleton";
import { ResultsToolbar } from "@/components/results-toolbar";
import { SiteHeader } from "@/components/site-header";
import { createApiClient } from "@/lib/api";
import { DEFAULT_PAGE_SIZE, parsePageSize } from "@/lib/config";
import { describeError } from "@/lib/errors";
import { fileNameOf } from "@/lib/format";
import type { QueryImage, SearchQuery, SearchResult } from "@/lib/types";
import { useHealth } from "@/lib/use-health";
import { useSearch } from "@/lib/use-search";

export function SearchApp({ apiBaseUrl }: { apiBaseUrl: string }) {
  const api = useMemo(() => createApiClient(apiBaseUrl), [apiBaseUrl]);
  const params = useSearchParams();
  const text = params.get("q")?.trim() ?? "";
  const pageSize = parsePageSize(params.get("k"));
  const [image, setImage] = useState<QueryImage | null>(null);
  const activeImage = text ? null : image;
  const query = useMemo<SearchQuery | null>(
    () => (text ? { kind: "text", text } : activeImage ? { kind: "image", image: activeImage } : null),
    [text, activeImage],
  );
  const { state, run, loadMore, reset } = useSearch(api);
  const health = useHealth(api);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (query) void run(query, pageSize);
    else reset();
  }, [query, pageSize, run, reset]);

  const chooseImage = useCallback(
    (next: QueryImage | null) => {
      if (image?.source === "file" && image.previewUrl !== next?.previewUrl) URL.revokeObjectURL(image.previewUrl);
      setImage(next);
      if (next) {
        pushUrl({ q: null, k: pageSize });
        window.scrollTo({ top: 0 });
      }
    },
    [image, pageSize],
  );

  const searchImageFile = useCallback(
    (file: File) =>
      chooseImage({ source: "file", file, previewUrl: URL.createObjectURL(file), label: file.name || "Pasted image" }),
    [chooseImage],
  );
  const { dragging } = useImageDropAndPaste(searchImageFile);

  const searchText = (next: string) => {
    // The same words again re-run the search (the URL would not change).
    if (!pushUrl({ q: next, k: pageSize }) && query) void run(query, pageSize);
    window.scrollTo({ top: 0 });
  };
  const moreLikeThis = (result: SearchResult) =>
    chooseImage({ source: "result", result, previewUrl: result.image_url, label: fileNameOf(result.source) });
  const pickImage = () => fileInput.current?.click();
  const onFileChosen = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = ""; // choosing the same file again still searches
    if (file) searchImageFile(file);
  };
  const goHome = () => {
    chooseImage(null);
    pushUrl({ q: null, k: pageSize });
  };
  const retry = () => {
    if (query) void run(query, pageSize);
    health.refresh();
  };

  const healthState = health.state;
  const loadMoreError = state.loadMoreError
    ? `Couldn't load more: ${describeError(state.loadMoreError, state.query, api.baseUrl).title.toLowerCase()}.`
    : null;

  return (
    <div className="flex min-h-dvh flex-col">
      <SiteHeader query={text} health={healthState} onSearch={searchText} onPickImage={pickImage} onHome={goHome} />
      <input
        ref={fileInput}
        type="file"
        accept="image/*"
        className="hidden"
        tabIndex={-1}
        aria-hidden="true"
        onChange={onFileChosen}
        data-testid="file-input"
      />
      <DropOverlay visible={dragging} />

      <main id="main" className="mx-auto w-full max-w-screen-2xl flex-1 px-4 py-6 sm:px-6">
        {query?.kind === "image" && (
          <div className="mb-6">
            <QueryImageCard key={query.image.previewUrl} image={query.image} onClear={() => chooseImage(null)} />
          </div>
        )}

        {!query ? (
          <Welcome
            imageCount={healthState.status === "ok" ? healthState.health.images : null}
            onExample={searchText}
            onPickImage={pickImage}
          />
        ) : state.status === "error" ? (
          <ErrorState
            message={describeError(state.error, state.query, api.baseUrl)}
            onRetry={retry}
            onPickImage={pickImage}
          />
        ) : (
          <>
            <ResultsToolbar
              query={query}
              count={state.status === "success" ? state.results.length : null}
              pageSize={pageSize}
              onPageSizeChange={(size) => pushUrl({ q: text || null, k: size })}
            />
            {state.status !== "success" ? (
              <ul className={GRID_CLASSES} aria-busy="true" aria-label="Loading results">
                <SkeletonCards count={Math.min(pageSize, 12)} />
              </ul>
            ) : state.results.length === 0 ? (
              <NoResults onClear={goHome} />
            ) : (
              <ResultGrid
                results={state.results}
                hasMore={state.hasMore}
                loadingMore={state.loadingMore}
                loadMoreError={loadMoreError}
                pageSize={pageSize}
                onLoadMore={() => void loadMore()}
                onMoreLikeThis={moreLikeThis}
              />
            )}
          </>
        )}
      </main>

      <footer className="border-t border-zinc-200 py-6 text-center text-xs text-zinc-500 dark:border-zinc-800 dark:text-zinc-500">
        Drop or paste an image anywhere to search with it · Scores are cosine similarity, higher is closer
      </footer>
    </div>
  );
}

/**
 * Put the search in the address bar as a new history entry (Next.js syncs useSearchParams with
 * pushState). Returns false when the URL would not change.
 */
function pushUrl({ q, k }: { q: string | null; k: number }): boolean {
  const next = new URLSearchParams();
  if (q) next.set("q", q);
  if (k !== DEFAULT_PAGE_SIZE) next.set("k", String(k));
  const search = next.toString();
  const target = `${window.location.pathname}${search ? `?${search}` : ""}`;
  if (target === `${window.location.pathname}${window.location.search}`) return false;
  window.history.pushState(null, "", target);
  return true;
}
