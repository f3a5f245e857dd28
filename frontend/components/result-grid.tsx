"use client";

import { useState } from "react";

import { SpinnerIcon } from "@/components/icons";
import { Lightbox } from "@/components/lightbox";
import { ResultCard } from "@/components/result-card";
import { GRID_BESIDE_PANEL_CLASSES, GRID_CLASSES, SkeletonCards } from "@/components/result-skeleton";
import type { MetadataFields } from "@/lib/filters";
import type { SearchResult } from "@/lib/types";

interface ResultGridProps {
  results: SearchResult[];
  /** The index's metadata fields, in its order: the cards show the first few, the larger view all. */
  fields: MetadataFields;
  /** Whether the filter panel is beside the grid (fewer columns). */
  besidePanel?: boolean;
  hasMore: boolean;
  loadingMore: boolean;
  /** Words for a failed "load more", shown beside its button. */
  loadMoreError: string | null;
  pageSize: number;
  onLoadMore: () => void;
  onMoreLikeThis: (result: SearchResult) => void;
  onAddToQuery: (result: SearchResult, sign: 1 | -1) => void;
}

export function ResultGrid(props: ResultGridProps) {
  const { results, fields, besidePanel, hasMore, loadingMore, loadMoreError, pageSize, onLoadMore, onMoreLikeThis, onAddToQuery } =
    props;
  const [open, setOpen] = useState<number | null>(null);

  const moreLikeThis = (result: SearchResult) => {
    setOpen(null);
    onMoreLikeThis(result);
  };

  return (
    <>
      <ul data-testid="result-grid" className={besidePanel ? GRID_BESIDE_PANEL_CLASSES : GRID_CLASSES}>
        {results.map((result, index) => (
          <ResultCard
            key={result.id}
            result={result}
            rank={index + 1}
            fields={fields}
            onOpen={() => setOpen(index)}
            onMoreLikeThis={() => moreLikeThis(result)}
            onAddToQuery={(sign) => onAddToQuery(result, sign)}
          />
        ))}
        {loadingMore && <SkeletonCards count={Math.min(pageSize, 12)} />}
      </ul>

      {(hasMore || loadMoreError) && (
        <div className="mt-8 flex flex-col items-center gap-2">
          {loadMoreError && (
            <p role="alert" className="text-sm text-red-600 dark:text-red-400">
              {loadMoreError}
            </p>
          )}
          <button
            type="button"
            onClick={onLoadMore}
            disabled={loadingMore}
            className="inline-flex items-center gap-2 rounded-full border border-zinc-300 bg-white px-6 py-2.5 text-sm font-semibold text-zinc-800 shadow-sm transition hover:bg-zinc-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 disabled:cursor-wait disabled:opacity-70 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100 dark:hover:bg-zinc-800"
          >
            {loadingMore && <SpinnerIcon />}
            {loadingMore ? "Loading…" : loadMoreError ? "Try again" : "Load more"}
          </button>
        </div>
      )}

      {open !== null && (
        <Lightbox
          results={results}
          index={open}
          fields={fields}
          onIndexChange={setOpen}
          onClose={() => setOpen(null)}
          onMoreLikeThis={moreLikeThis}
          onAddToQuery={(result, sign) => {
            setOpen(null);
            onAddToQuery(result, sign);
          }}
        />
      )}
    </>
  );
}
