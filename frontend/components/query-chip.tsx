"use client";

import { useState } from "react";

import { BrokenImageIcon, CloseIcon } from "@/components/icons";
import { TERM_WEIGHTS, termLabel } from "@/lib/terms";
import type { QueryTerm } from "@/lib/types";

interface QueryChipProps {
  term: QueryTerm;
  onChange: (change: Partial<Pick<QueryTerm, "sign" | "weight">>) => void;
  onRemove: () => void;
  /** The API's `max_term_weight`: larger weights are not offered. */
  maxWeight: number;
}

/** One term of a combined query: "more like" (+) or "less like" (−) it, its weight, and removal. */
export function QueryChip({ term, onChange, onRemove, maxWeight }: QueryChipProps) {
  const label = termLabel(term);
  const positive = term.sign > 0;
  const offered: number[] = TERM_WEIGHTS.filter((weight) => weight <= maxWeight);
  const weights = offered.includes(term.weight)
    ? offered
    : [...offered, term.weight].filter((weight) => weight <= maxWeight).sort((a, b) => a - b);
  const tone = positive
    ? "border-emerald-300 bg-emerald-50 dark:border-emerald-700/60 dark:bg-emerald-950/40"
    : "border-rose-300 bg-rose-50 dark:border-rose-700/60 dark:bg-rose-950/40";
  const control =
    "rounded-full focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-500";

  return (
    <li
      data-testid="query-chip"
      data-sign={positive ? "+" : "-"}
      data-weight={term.weight}
      className={`flex max-w-full items-center gap-1.5 rounded-full border py-1 pl-1 pr-1.5 text-sm ${tone}`}
    >
      <button
        type="button"
        onClick={() => onChange({ sign: positive ? -1 : 1 })}
        aria-label={`${positive ? "More" : "Less"} like ${label}; switch to ${positive ? "less" : "more"} like`}
        title={positive ? "More like this (click for less like)" : "Less like this (click for more like)"}
        className={`${control} flex size-7 shrink-0 items-center justify-center font-bold ${
          positive ? "bg-emerald-600 text-white" : "bg-rose-600 text-white"
        }`}
      >
        <span aria-hidden="true">{positive ? "+" : "−"}</span>
      </button>
      {term.source.kind !== "text" && <ChipThumb src={preview(term)} />}
      <span className="min-w-0 truncate font-medium text-zinc-900 dark:text-zinc-100" title={label}>
        {label}
      </span>
      <label className="shrink-0">
        <span className="sr-only">Weight of {label}</span>
        <select
          value={term.weight}
          onChange={(event) => onChange({ weight: Number(event.target.value) })}
          className={`${control} border border-zinc-300 bg-white px-1.5 py-0.5 text-xs font-semibold text-zinc-800 dark:border-zinc-600 dark:bg-zinc-900 dark:text-zinc-100`}
        >
          {weights.map((weight) => (
            <option key={weight} value={weight}>
              {weight}×
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        onClick={onRemove}
        aria-label={`Remove ${label}`}
        className={`${control} shrink-0 p-1 text-zinc-500 hover:bg-black/5 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-white/10 dark:hover:text-zinc-100`}
      >
        <CloseIcon className="size-3.5" />
      </button>
    </li>
  );
}

function preview(term: QueryTerm): string {
  const source = term.source;
  if (source.kind === "image_id") return source.previewUrl;
  if (source.kind === "upload") return source.image.previewUrl;
  return "";
}

function ChipThumb({ src }: { src: string }) {
  const [failed, setFailed] = useState(false);
  return (
    <span className="flex size-7 shrink-0 items-center justify-center overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800">
      {failed ? (
        <BrokenImageIcon className="size-4 text-zinc-400" />
      ) : (
        // eslint-disable-next-line @next/next/no-img-element -- a local object URL or the API's image
        <img src={src} alt="" className="size-full object-cover" onError={() => setFailed(true)} />
      )}
    </span>
  );
}
