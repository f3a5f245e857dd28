"use client";

import { useState } from "react";

import { HighlightedText } from "@/components/highlighted-text";
import { BrokenImageIcon, SparklesIcon } from "@/components/icons";
import type { MetadataFields } from "@/lib/filters";
import { fileNameOf, formatScore, keyMetadata, plural } from "@/lib/format";
import { excerpt, oneLine } from "@/lib/highlight";
import type { SearchResult } from "@/lib/types";

interface ResultCardProps {
  result: SearchResult;
  rank: number;
  fields: MetadataFields;
  onOpen: () => void;
  onMoreLikeThis: () => void;
  /** Add this image to the combined query: +1 more like it, -1 less like it. */
  onAddToQuery: (sign: 1 | -1) => void;
}

export function ResultCard({ result, rank, fields, onOpen, onMoreLikeThis, onAddToQuery }: ResultCardProps) {
  const [failed, setFailed] = useState(false);
  const name = fileNameOf(result.source);
  const caption = result.caption?.trim() || null;
  const duplicates = result.duplicates ?? [];
  const ocrText = result.ocr_text?.trim() || null;
  const matched = result.matched_words ?? [];
  const facts = keyMetadata(result.metadata, Object.keys(fields));
  const small =
    "inline-flex shrink-0 items-center justify-center rounded-full text-xs font-medium focus-visible:outline-2 focus-visible:outline-indigo-500";

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
        title={caption ?? undefined}
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
            alt={`Result ${rank}: ${name}${caption ? ` — ${caption}` : ""}`}
            loading="lazy"
            decoding="async"
            onError={() => setFailed(true)}
            className="size-full object-cover transition duration-300 group-hover:scale-[1.03]"
          />
        )}
        <span className="absolute left-2 top-2 rounded-full bg-black/55 px-2 py-0.5 text-xs font-medium text-white backdrop-blur">
          #{rank}
        </span>
        {duplicates.length > 0 && (
          <span
            data-testid="duplicates-badge"
            title={`${plural(duplicates.length, "near-duplicate")} collapsed into this result: #${duplicates.join(", #")}`}
            className="absolute right-2 top-2 rounded-full bg-indigo-600/90 px-2 py-0.5 text-xs font-semibold text-white backdrop-blur"
          >
            +{duplicates.length} similar
          </span>
        )}
      </button>
      {caption && (
        <p
          data-testid="result-caption"
          title={caption}
          className="truncate px-3 pt-2 text-sm text-zinc-700 dark:text-zinc-300"
        >
          {caption}
        </p>
      )}
      {ocrText && (
        <p
          data-testid="result-ocr-text"
          title={`Text in the image: ${oneLine(ocrText)}`}
          className="truncate px-3 pt-1 text-xs text-zinc-600 dark:text-zinc-400"
        >
          <span className="sr-only">Text in the image: </span>
          <span aria-hidden="true">“</span>
          <HighlightedText text={excerpt(ocrText, matched)} words={matched} />
          <span aria-hidden="true">”</span>
        </p>
      )}
      {facts.length > 0 && (
        <p
          data-testid="result-metadata"
          title={facts.map(([field, value]) => `${field}: ${value}`).join("\n")}
          className="truncate px-3 pt-1 text-xs text-zinc-500 dark:text-zinc-400"
        >
          {facts.map(([field, value], index) => (
            <span key={field}>
              {index > 0 && <span aria-hidden="true"> · </span>}
              <span className="sr-only">{field}: </span>
              <span data-field={field}>{value}</span>
            </span>
          ))}
        </p>
      )}
      <div className="flex flex-wrap items-center justify-between gap-x-2 gap-y-1.5 px-3 py-2.5">
        <p className="whitespace-nowrap text-xs text-zinc-500 dark:text-zinc-400" title="Cosine similarity to the query">
          <span>Score </span>
          <span data-testid="result-score" className="font-mono text-sm font-semibold tabular-nums text-zinc-900 dark:text-zinc-100">
            {formatScore(result.score)}
          </span>
        </p>
        <div className="ml-auto flex items-center gap-1">
          <button
            type="button"
            onClick={onMoreLikeThis}
            aria-label={`More like result ${rank}`}
            title="More like this"
            className={`${small} gap-1 px-2 py-1 text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-indigo-500/10`}
          >
            <SparklesIcon className="size-3.5" />
            More like this
          </button>
          <button
            type="button"
            onClick={() => onAddToQuery(1)}
            aria-label={`Add result ${rank} to the query`}
            title="Add to query: more like this image"
            className={`${small} size-7 border border-emerald-300 text-base text-emerald-700 hover:bg-emerald-50 dark:border-emerald-700/60 dark:text-emerald-300 dark:hover:bg-emerald-500/10`}
          >
            <span aria-hidden="true">+</span>
          </button>
          <button
            type="button"
            onClick={() => onAddToQuery(-1)}
            aria-label={`Exclude result ${rank} from the query`}
            title="Exclude: less like this image"
            className={`${small} size-7 border border-rose-300 text-base text-rose-700 hover:bg-rose-50 dark:border-rose-700/60 dark:text-rose-300 dark:hover:bg-rose-500/10`}
          >
            <span aria-hidden="true">−</span>
          </button>
        </div>
      </div>
    </li>
  );
}
