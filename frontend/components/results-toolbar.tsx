"use client";

import { SearchOptionsControls } from "@/components/search-options";
import { pageSizeChoices } from "@/lib/config";
import type { SortChoice } from "@/lib/filters";
import { plural } from "@/lib/format";
import { describeTerms } from "@/lib/terms";
import type { SearchOptions, SearchQuery } from "@/lib/types";

interface ResultsToolbarProps {
  query: SearchQuery;
  /** Null while the first page is loading. */
  count: number | null;
  options: SearchOptions;
  showHybrid: boolean;
  /** The index holds text read in its images (/health `ocr_engine`). */
  textInImages: boolean;
  showReadText: boolean;
  /** The API's `max_top_k`: larger page sizes are not offered. */
  maxPageSize: number;
  sortChoices: SortChoice[];
  /** The API's count of relevant results under a cutoff. */
  total: number | null;
  onOptionsChange: (change: Partial<SearchOptions>) => void;
}

function Subject({ query }: { query: SearchQuery }) {
  const strong = "font-semibold text-zinc-900 dark:text-zinc-50";
  switch (query.kind) {
    case "text":
      return (
        <>
          for <span className={strong}>“{query.text}”</span>
        </>
      );
    case "image":
      return <>similar to your image</>;
    case "similar":
      return (
        <>
          similar to <span className={strong}>{query.label}</span>
        </>
      );
    case "combined":
      return (
        <>
          for <span className={strong}>{describeTerms(query.terms)}</span>
        </>
      );
  }
}

export function ResultsToolbar(props: ResultsToolbarProps) {
  const { query, count, options, showHybrid, textInImages, showReadText, maxPageSize, sortChoices, total, onOptionsChange } =
    props;
  const sizes = pageSizeChoices(options.pageSize, maxPageSize);

  return (
    <div className="mb-5 flex flex-col gap-3">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-base text-zinc-600 dark:text-zinc-400" aria-live="polite" data-testid="results-heading">
          {count === null ? (
            <>
              Searching <Subject query={query} />…
            </>
          ) : (
            <>
              <span className="font-semibold text-zinc-900 dark:text-zinc-50">{plural(count, "result")}</span>{" "}
              <Subject query={query} />
            </>
          )}
        </h1>
        <label className="flex items-center gap-2 text-sm text-zinc-600 dark:text-zinc-400">
          Results per page
          <select
            value={options.pageSize}
            onChange={(event) => onOptionsChange({ pageSize: Number(event.target.value) })}
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
      <SearchOptionsControls
        options={options}
        showHybrid={showHybrid}
        textInImages={textInImages}
        showReadText={showReadText}
        sortChoices={sortChoices}
        total={total}
        onChange={onOptionsChange}
      />
    </div>
  );
}
