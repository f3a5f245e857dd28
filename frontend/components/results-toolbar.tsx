"use client";

import { PAGE_SIZES } from "@/lib/config";
import { plural } from "@/lib/format";
import type { SearchQuery } from "@/lib/types";

interface ResultsToolbarProps {
  query: SearchQuery;
  /** Null while the first page is loading. */
  count: number | null;
  pageSize: number;
  onPageSizeChange: (size: number) => void;
}

export function ResultsToolbar({ query, count, pageSize, onPageSizeChange }: ResultsToolbarProps) {
  const sizes = (PAGE_SIZES as readonly number[]).includes(pageSize)
    ? PAGE_SIZES
    : [...PAGE_SIZES, pageSize].sort((a, b) => a - b);
  const subject =
    query.kind === "text" ? (
      <>
        for <span className="font-semibold text-zinc-900 dark:text-zinc-50">“{query.text}”</span>
      </>
    ) : (
      "similar to your image"
    );

  return (
    <div className="mb-5 flex flex-wrap items-center justify-between gap-3">
      <h1 className="text-base text-zinc-600 dark:text-zinc-400" aria-live="polite" data-testid="results-heading">
        {count === null ? (
          <>Searching {subject}…</>
        ) : (
          <>
            <span className="font-semibold text-zinc-900 dark:text-zinc-50">{plural(count, "result")}</span> {subject}
          </>
        )}
      </h1>
      <label className="flex items-center gap-2 text-sm text-zinc-600 dark:text-zinc-400">
        Results per page
        <select
          value={pageSize}
          onChange={(event) => onPageSizeChange(Number(event.target.value))}
          className="rounded-lg border border-zinc-300 bg-white px-2.5 py-1.5 text-sm font-medium text-zinc-900 shadow-sm focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100"
        >
          {sizes.map((size) => (
            <option key={size} value={size}>
              {size}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}
