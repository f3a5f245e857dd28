"use client";

/**
 * The search page: wires the URL state (see lib/url-state.ts), the query builder's draft, the API
 * calls and the views. Text, "More like this", combined terms and the ranking options live in
 * the URL so searches can be shared, reloaded and walked with Back/Forward; an uploaded image
 * cannot, so it is kept in memory. The API's limits (page size, terms, weights, text length,
 * offset) come from its /health answer (hooks/use-health.ts), with defaults until it answers.
 */

import { type ChangeEvent, useCallback, useEffect, useMemo, useRef } from "react";

import { BusyState } from "@/components/busy-state";
import { NoResults, Welcome } from "@/components/empty-state";
import { ErrorState } from "@/components/error-state";
import { FilterPanel } from "@/components/filter-panel";
import { DropOverlay, useImageDropAndPaste } from "@/components/image-drop";
import { NoGoodMatches } from "@/components/no-good-matches";
import { QueryBuilder } from "@/components/query-builder";
import { QueryImageCard } from "@/components/query-image-card";
import { ResultGrid } from "@/components/result-grid";
import { GRID_BESIDE_PANEL_CLASSES, GRID_CLASSES, SkeletonCards } from "@/components/result-skeleton";
import { ResultsToolbar } from "@/components/results-toolbar";
import { SiteHeader } from "@/components/site-header";
import { useHealth } from "@/hooks/use-health";
import { useQueryDraft } from "@/hooks/use-query-draft";
import { useQueryState } from "@/hooks/use-query-state";
import { useSearch } from "@/hooks/use-search";
import { createApiClient } from "@/lib/api";
import { describeError, filterErrorOf } from "@/lib/errors";
import { panelFields, readFields, sortChoices } from "@/lib/filters";
import { fileNameOf } from "@/lib/format";
import { oneLine } from "@/lib/highlight";
import { canRun, hasText } from "@/lib/terms";
import type { QueryImage, SearchOptions, SearchResult } from "@/lib/types";

function fileImage(file: File): QueryImage {
  return { source: "file", file, previewUrl: URL.createObjectURL(file), label: file.name || "Pasted image" };
}

export function SearchApp({ apiBaseUrl, apiKey }: { apiBaseUrl: string; apiKey?: string }) {
  const api = useMemo(() => createApiClient(apiBaseUrl, apiKey), [apiBaseUrl, apiKey]);
  const health = useHealth(api);
  const { limits } = health;
  const nav = useQueryState(api, limits);
  const { query, options } = nav;
  const { state, run, loadMore, reset } = useSearch(api);
  const draft = useQueryDraft(query, limits.max_query_terms);
  const fileInput = useRef<HTMLInputElement>(null);
  // Whether the file picker adds a term to the query builder, or searches with the image.
  const pickForTerm = useRef(false);

  const healthState = health.state;
  const captions = healthState.status === "ok" && healthState.health.captions === true;
  const words = query?.kind === "text" || (query?.kind === "combined" && hasText(query.terms));
  // The caption weight applies to words on an index with captions; wait for /health to know.
  const waitForHealth = options.hybrid > 0 && words && healthState.status === "loading";
  const hybrid = captions ? options.hybrid : 0;
  // The text of an uploaded image is read only by an API with an OCR engine (its index holds text).
  const ocr = healthState.status === "ok" && !!healthState.health.ocr_engine;
  const readText = ocr && options.readText;
  const effective = useMemo<SearchOptions>(() => ({ ...options, hybrid, readText }), [options, hybrid, readText]);
  // The metadata fields /health reports: the filter panel's, whose facets each search asks for.
  const reportedFields = healthState.status === "ok" ? healthState.health.metadata_fields : null;
  const facetRequest = useMemo(() => {
    const types = readFields(reportedFields);
    return { types, fields: panelFields(types) };
  }, [reportedFields]);
  const waitForFields = healthState.status === "loading"; // else the first search has no facets

  useEffect(() => {
    if (waitForHealth || waitForFields) return;
    if (query) void run(query, effective, facetRequest);
    else reset();
  }, [query, effective, facetRequest, waitForHealth, waitForFields, run, reset]);

  const { searchImage, searchCombined, searchSimilar, searchText, setOptions, clear } = nav;
  const { add: addTerm } = draft;
  const onImageFile = useCallback(
    (file: File) => {
      if (pickForTerm.current || draft.open) addTerm({ kind: "upload", image: fileImage(file) });
      else searchImage(fileImage(file));
      pickForTerm.current = false;
    },
    [addTerm, draft.open, searchImage],
  );
  const { dragging } = useImageDropAndPaste(onImageFile);

  const pickImage = (forTerm: boolean) => {
    pickForTerm.current = forTerm;
    fileInput.current?.click();
  };
  const onFileChosen = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = ""; // choosing the same file again still searches
    if (file) onImageFile(file);
    else pickForTerm.current = false;
  };
  const addResult = (result: SearchResult, sign: 1 | -1) =>
    addTerm(
      { kind: "image_id", id: result.id, previewUrl: result.image_url, label: fileNameOf(result.source) },
      sign,
    );
  const retry = () => {
    if (query) void run(query, effective, facetRequest);
    health.refresh();
  };

  const filterError = state.status === "error" ? filterErrorOf(state.error, options.filter) : null;
  const sorts = useMemo(() => sortChoices(facetRequest.types), [facetRequest]);
  const showPanel = query !== null && facetRequest.fields.length > 0;
  const loadMoreError = state.loadMoreError
    ? `Couldn't load more: ${describeError(state.loadMoreError, state.query, api.baseUrl).title.toLowerCase()}.`
    : null;

  return (
    <div className="flex min-h-dvh flex-col">
      <SiteHeader
        query={query?.kind === "text" ? query.text : ""}
        health={healthState}
        maxQueryChars={limits.max_query_chars}
        onSearch={searchText}
        onPickImage={() => pickImage(false)}
        onCombine={() => draft.setOpen(true)}
        onHome={() => {
          draft.reset();
          clear();
        }}
      />
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
        {draft.open && (
          <QueryBuilder
            terms={draft.terms}
            onAdd={draft.add}
            onChange={draft.update}
            onRemove={draft.remove}
            onPickImage={() => pickImage(true)}
            onRun={() => canRun(draft.terms, limits.max_query_terms) && searchCombined(draft.terms)}
            onClose={() => draft.setOpen(false)}
            limits={limits}
          />
        )}
        {query?.kind === "image" && (
          <div className="mb-6">
            <QueryImageCard
              key={query.image.previewUrl}
              previewUrl={query.image.previewUrl}
              label={query.image.label}
              kicker="Searching with an image"
              note={readText && state.status === "success" ? <ReadTextNote text={state.queryText} /> : null}
              onClear={clear}
            />
          </div>
        )}
        {query?.kind === "similar" && (
          <div className="mb-6">
            <QueryImageCard
              key={query.id}
              previewUrl={query.previewUrl}
              label={query.label}
              kicker="More like this"
              onClear={clear}
            />
          </div>
        )}

        {!query ? (
          <Welcome
            imageCount={healthState.status === "ok" ? healthState.health.images : null}
            onExample={searchText}
            onPickImage={() => pickImage(false)}
          />
        ) : (
          <div className={showPanel ? "lg:flex lg:items-start lg:gap-6" : undefined}>
            {showPanel && (
              <aside className="lg:sticky lg:top-4 lg:w-64 lg:shrink-0">
                <FilterPanel
                  fields={facetRequest.types}
                  shown={facetRequest.fields}
                  facets={state.facets}
                  filter={options.filter}
                  error={filterError}
                  onFilterChange={(filter) => setOptions({ filter })}
                />
              </aside>
            )}
            <div className="min-w-0 flex-1">
              {filterError ? (
                <div role="status" data-testid="filter-refused" className="rounded-2xl border border-red-200 px-6 py-10 text-center dark:border-red-900/60">
                  <h2 className="text-base font-semibold text-zinc-900 dark:text-zinc-50">That filter couldn&apos;t run</h2>
                  <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">Fix the expression beside the results, or clear it.</p>
                  <button
                    type="button"
                    onClick={() => setOptions({ filter: "" })}
                    className="mt-4 rounded-full border border-zinc-300 px-4 py-2 text-sm font-semibold text-zinc-800 hover:bg-zinc-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:text-zinc-100 dark:hover:bg-zinc-800"
                  >
                    Clear the filter
                  </button>
                </div>
              ) : state.status === "error" ? (
                <ErrorState
                  message={describeError(state.error, state.query, api.baseUrl)}
                  onRetry={retry}
                  onPickImage={query.kind === "image" ? () => pickImage(false) : undefined}
                />
              ) : (
                <>
                  <ResultsToolbar
                    query={query}
                    count={state.status === "success" ? state.results.length : null}
                    options={options}
                    showHybrid={captions && words}
                    textInImages={ocr}
                    showReadText={ocr && query.kind === "image"}
                    maxPageSize={limits.max_top_k}
                    sortChoices={sorts}
                    total={state.status === "success" ? state.total : null}
                    onOptionsChange={setOptions}
                  />
                  {state.status === "loading" && state.busy && <BusyState retry={state.busy} />}
                  {state.status !== "success" ? (
                    <ul
                      className={showPanel ? GRID_BESIDE_PANEL_CLASSES : GRID_CLASSES}
                      aria-busy="true"
                      aria-label="Loading results"
                    >
                      <SkeletonCards count={Math.min(options.pageSize, 12)} />
                    </ul>
                  ) : state.results.length === 0 && options.minScore !== null ? (
                    <NoGoodMatches minScore={options.minScore} onShowWeaker={() => setOptions({ minScore: null })} />
                  ) : state.results.length === 0 ? (
                    <NoResults onClear={clear} />
                  ) : (
                    <ResultGrid
                      results={state.results}
                      fields={facetRequest.types}
                      besidePanel={showPanel}
                      // The next page starts at the results shown: past max_offset the API would refuse it.
                      hasMore={state.hasMore && state.results.length <= limits.max_offset}
                      loadingMore={state.loadingMore}
                      loadMoreError={loadMoreError}
                      pageSize={options.pageSize}
                      onLoadMore={() => void loadMore()}
                      onMoreLikeThis={searchSimilar}
                      onAddToQuery={addResult}
                    />
                  )}
                </>
              )}
            </div>
          </div>
        )}
      </main>

      <footer className="border-t border-zinc-200 py-6 text-center text-xs text-zinc-500 dark:border-zinc-800 dark:text-zinc-500">
        Drop or paste an image anywhere to search with it · Scores are cosine similarity, higher is closer
      </footer>
    </div>
  );
}

/** What the API read in an uploaded image (`query_text`), under its preview. */
function ReadTextNote({ text }: { text: string | null }) {
  if (text === null) return null;
  const line = oneLine(text);
  return (
    <p data-testid="query-text" className="truncate text-sm text-zinc-600 dark:text-zinc-400" title={line || undefined}>
      {line ? (
        <>
          Text read in your image: <span className="font-medium text-zinc-900 dark:text-zinc-100">“{line}”</span>
        </>
      ) : (
        "No text found in your image."
      )}
    </p>
  );
}
