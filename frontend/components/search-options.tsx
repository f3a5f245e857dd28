"use client";

/**
 * Ranking options beside the results: sort, adaptive cutoff, minimum match, near-duplicate
 * collapse, caption (and image text) match for words, matching an uploaded image's text.
 */

import { useState } from "react";

import type { SortChoice } from "@/lib/filters";
import { plural } from "@/lib/format";
import type { SearchOptions } from "@/lib/types";

/** Cosine thresholds offered; a value from the URL outside this list is shown too. */
export const MIN_SCORES = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] as const;
/** Caption-match weights offered (0 = image model only). */
export const HYBRID_WEIGHTS = [0, 0.25, 0.5, 0.75, 1] as const;

const SELECT =
  "rounded-lg border border-zinc-300 bg-white px-2.5 py-1.5 text-sm font-medium text-zinc-900 shadow-sm focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100";
const LABEL = "flex items-center gap-2 text-sm text-zinc-600 dark:text-zinc-400";

interface SearchOptionsProps {
  options: SearchOptions;
  /** Whether the caption-match control applies (the index has captions and the query has words). */
  showHybrid: boolean;
  /** Whether the index holds text read in its images (/health `ocr_engine`): the words match it too. */
  textInImages: boolean;
  /** Whether "Match the text in this image" applies (an uploaded image, an API that reads text). */
  showReadText: boolean;
  /** The sort orders on offer (lib/filters.ts `sortChoices`); only relevance hides the control. */
  sortChoices: SortChoice[];
  /** How many results are relevant under the cutoff (the API's `total`), once known. */
  total: number | null;
  onChange: (change: Partial<SearchOptions>) => void;
}

/**
 * A control's value shown at once when changed, then following the URL: the URL updates in a
 * transition, and a controlled input would otherwise flick back to the old value until then.
 */
function useShownValue<T>(value: T): [T, (next: T) => void] {
  const [shown, setShown] = useState(value);
  const [source, setSource] = useState(value);
  if (value !== source) {
    setSource(value);
    setShown(value);
  }
  return [shown, setShown];
}

export function SearchOptionsControls(props: SearchOptionsProps) {
  const { options, showHybrid, textInImages, showReadText, sortChoices, total, onChange } = props;
  const [dedupe, setDedupe] = useShownValue(options.dedupe);
  const [readText, setReadText] = useShownValue(options.readText);
  const [hybrid, setHybrid] = useShownValue(options.hybrid);
  const [sort, setSort] = useShownValue(options.sort);
  const [cutoff, setCutoff] = useShownValue(options.cutoff);
  // A sort from a shared URL that is not on offer is still shown (the API judges it).
  const sorts = sortChoices.some((choice) => choice.value === sort) ? sortChoices : [...sortChoices, { value: sort, label: sort }];
  return (
    <div className="flex flex-wrap items-center gap-x-4 gap-y-2" data-testid="search-options">
      {sorts.length > 1 && (
        <label className={LABEL}>
          Sort by
          <select
            value={sort}
            onChange={(event) => {
              setSort(event.target.value);
              onChange({ sort: event.target.value });
            }}
            className={SELECT}
            title="Order the relevant results by relevance or by a metadata field"
          >
            {sorts.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label}
              </option>
            ))}
          </select>
        </label>
      )}
      <label className={`${LABEL} cursor-pointer`} title="Keep only the results before the largest drop in the scores">
        <input
          type="checkbox"
          checked={cutoff}
          onChange={(event) => {
            setCutoff(event.target.checked);
            onChange({ cutoff: event.target.checked });
          }}
          className="size-4 rounded accent-indigo-600 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500"
        />
        Adaptive cutoff
        {cutoff && total !== null && (
          <span data-testid="relevant-total" className="font-medium text-zinc-900 dark:text-zinc-100">
            ({plural(total, "relevant result")})
          </span>
        )}
      </label>
      <MinScoreSelect value={options.minScore} onChange={(minScore) => onChange({ minScore })} />
      <label className={`${LABEL} cursor-pointer`}>
        <input
          type="checkbox"
          checked={dedupe}
          onChange={(event) => {
            setDedupe(event.target.checked);
            onChange({ dedupe: event.target.checked });
          }}
          className="size-4 rounded accent-indigo-600 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500"
        />
        Collapse near-duplicates
      </label>
      {showReadText && (
        <label
          className={`${LABEL} cursor-pointer`}
          title="Read the words in your image and find images whose captions or text have them"
        >
          <input
            type="checkbox"
            checked={readText}
            onChange={(event) => {
              setReadText(event.target.checked);
              onChange({ readText: event.target.checked });
            }}
            className="size-4 rounded accent-indigo-600 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500"
          />
          Match the text in this image
        </label>
      )}
      {showHybrid && (
        <label className={LABEL}>
          {textInImages ? "Match captions and text in images" : "Caption match"}
          <select
            value={hybrid}
            onChange={(event) => {
              setHybrid(Number(event.target.value));
              onChange({ hybrid: Number(event.target.value) });
            }}
            className={SELECT}
            title={
              textInImages
                ? "How much the words of the images' captions and of the text read in them count, beside what the image model sees"
                : "How much the images' captions count, beside what the image model sees"
            }
          >
            {withValue(HYBRID_WEIGHTS, hybrid).map((weight) => (
              <option key={weight} value={weight}>
                {weight === 0 ? "Off" : weight.toFixed(2)}
              </option>
            ))}
          </select>
        </label>
      )}
    </div>
  );
}

function MinScoreSelect({ value: urlValue, onChange }: { value: number | null; onChange: (value: number | null) => void }) {
  const [value, setValue] = useShownValue(urlValue);
  return (
    <label className={LABEL}>
      Minimum match
      <select
        value={value === null ? "off" : String(value)}
        onChange={(event) => {
          const next = event.target.value === "off" ? null : Number(event.target.value);
          setValue(next);
          onChange(next);
        }}
        className={SELECT}
        title="Hide results whose cosine similarity to the query is below this"
      >
        <option value="off">Off</option>
        {withValue(MIN_SCORES, value).map((score) => (
          <option key={score} value={String(score)}>
            ≥ {score.toFixed(2)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The offered values, plus the current one when it is not among them (from a shared URL). */
function withValue(values: readonly number[], current: number | null): number[] {
  if (current === null || values.includes(current)) return [...values];
  return [...values, current].sort((a, b) => a - b);
}
