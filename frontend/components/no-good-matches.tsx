"use client";

import { SearchIcon } from "@/components/icons";
import { formatScore } from "@/lib/format";

interface NoGoodMatchesProps {
  minScore: number;
  onShowWeaker: () => void;
}

/** A search whose results all fell below the minimum match: say so, and offer the weaker ones. */
export function NoGoodMatches({ minScore, onShowWeaker }: NoGoodMatchesProps) {
  return (
    <section className="mx-auto flex max-w-md flex-col items-center py-16 text-center" data-testid="no-good-matches">
      <SearchIcon className="size-10 text-zinc-300 dark:text-zinc-600" />
      <h2 className="mt-4 text-lg font-semibold text-zinc-900 dark:text-zinc-50">No good matches</h2>
      <p className="mt-2 text-sm text-zinc-600 dark:text-zinc-400">
        No image matches this search with a score of at least{" "}
        <span className="font-mono font-semibold text-zinc-900 dark:text-zinc-100" data-testid="no-good-matches-threshold">
          {formatScore(minScore)}
        </span>
        , the minimum match you chose.
      </p>
      <button
        type="button"
        onClick={onShowWeaker}
        className="mt-6 rounded-full bg-zinc-900 px-5 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-zinc-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 dark:bg-white dark:text-zinc-900 dark:hover:bg-zinc-200"
      >
        Show weaker matches
      </button>
    </section>
  );
}
