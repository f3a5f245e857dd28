"use client";

import { useState } from "react";

import { BrokenImageIcon, SparklesIcon } from "@/components/icons";
import { fileNameOf, formatScore } from "@/lib/format";
import type { SearchResult } from "@/lib/types";

interface ResultCardProps {
  result: SearchResult;
  rank: number;
  onOpen: () => void;
  onMoreLikeThis: () => void;
}

export function ResultCard({ result, rank, onOpen, onMoreLikeThis }: ResultCardProps) {
  const [failed, setFailed] = useState(false);
  const name = fileNameOf(result.source);

  return (
    <li
      data-testid="result-card"
      data-result-id={result.id}
      className="group flex flex-col overflow-hidden rounded-2xl border border-zinc-200 bg-white shadow-sm transition hover:shadow-md dark:border-zinc-800 dark:bg-zinc-900"
    >
      <button
        type="button"
        onClick={onOpen}
        aria-label={`Open result ${rank}, ${name}, in a larger view`}
        className="relative block aspect-[4/3] w-full overflow-hidden bg-zinc-100 focus-visible:outline-3 focus-visible:-outline-offset-3 focus-visible:outline-indigo-500 dark:bg-zinc-800"
      >
        {failed ? (
          <span className="flex size-full flex-col items-center justify-center gap-2 text-zinc-400">
            <BrokenImageIcon className="size-8" />
            <span className="text-xs">Image unavailable</span>
          </span>
        ) : (
          // eslint-disable-next-line @next/next/no-img-element -- served by the API or its origin host
          <img
            src={result.image_url}
            alt={`Result ${rank}: ${name}`}
            loading="lazy"
            decoding="async"
            onError={() => setFailed(true)}
            className="size-full object-cover transition duration-300 group-hover:scale-[1.03]"
          />
        )}
        <span className="absolute left-2 top-2 rounded-full bg-black/55 px-2 py-0.5 text-xs font-medium text-white backdrop-blur">
          #{rank}
        </span>
      </button>
      <div className="flex items-center justify-between gap-2 px-3 py-2.5">
        <p className="whitespace-nowrap text-xs text-zinc-500 dark:text-zinc-400" title="Cosine similarity to the query">
          <span>Score </span>
          <span data-testid="result-score" className="font-mono text-sm font-semibold tabular-nums text-zinc-900 dark:text-zinc-100">
            {formatScore(result.score)}
          </span>
        </p>
        <button
          type="button"
          onClick={onMoreLikeThis}
          aria-label={`More like result ${rank}`}
          className="inline-flex shrink-0 items-center gap-1 rounded-full px-2.5 py-1 text-xs font-medium text-indigo-700 hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300 dark:hover:bg-indigo-500/10"
        >
          <SparklesIcon className="size-3.5" />
          More like this
        </button>
      </div>
    </li>
  );
}
