"use client";

/**
 * The metadata filter panel: facet chips for string, boolean and list fields, from/to inputs for
 * number and datetime fields, and the expression itself for anything else (NOT, OR, ...). Every
 * change writes the whole expression (lib/filters.ts) to the URL's `filter`; the panel shows
 * what the URL's expression says, so a shared link shows the same choices.
 */

import { type FormEvent, useId, useState } from "react";

import {
  composeFilter,
  fieldLabel,
  FREE_TEXT_FIELDS,
  isChosen,
  isRangeField,
  type MetadataFields,
  type PanelState,
  parseFilter,
  type RangeBounds,
  setRange,
  toggleValue,
  valueLabel,
} from "@/lib/filters";
import { formatMetadataValue } from "@/lib/format";
import type { Facet, FacetBucket } from "@/lib/types";

/** Chips shown per field before "Show all". */
const CHIPS_SHOWN = 8;

interface FilterPanelProps {
  fields: MetadataFields;
  /** The fields shown (the first of `fields`, see lib/filters.ts `panelFields`). */
  shown: string[];
  /** The current search's facets; empty while it loads. */
  facets: Record<string, Facet>;
  /** The URL's filter expression. */
  filter: string;
  /** The API's message when it refused the expression. */
  error: string | null;
  onFilterChange: (filter: string) => void;
}

const INPUT =
  "w-full min-w-0 rounded-lg border border-zinc-300 bg-white px-2 py-1.5 text-sm text-zinc-900 shadow-sm focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100";
const SMALL_BUTTON =
  "rounded-full px-2.5 py-1 text-xs font-medium text-indigo-700 hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-300 dark:hover:bg-indigo-500/10";

export function FilterPanel({ fields, shown, facets, filter, error, onFilterChange }: FilterPanelProps) {
  const [open, setOpen] = useState(false);
  const bodyId = useId();
  const state = parseFilter(filter, fields);
  const active = Object.keys(state.values).length + Object.keys(state.ranges).length + state.extra.length;
  const change = (next: PanelState) => onFilterChange(composeFilter(next, fields));

  return (
    <section aria-label="Filters" data-testid="filter-panel" className="mb-5 lg:mb-0">
      <div className="flex items-center justify-between gap-2">
        <button
          type="button"
          aria-expanded={open}
          aria-controls={bodyId}
          onClick={() => setOpen((value) => !value)}
          className="rounded-full border border-zinc-300 px-3 py-1.5 text-sm font-medium text-zinc-800 hover:bg-zinc-50 focus-visible:outline-2 focus-visible:outline-indigo-500 lg:hidden dark:border-zinc-700 dark:text-zinc-100 dark:hover:bg-zinc-800"
        >
          Filters{active ? ` (${active})` : ""}
        </button>
        <h2 className="hidden text-sm font-semibold text-zinc-900 lg:block dark:text-zinc-50">Filters</h2>
        {filter && (
          <button type="button" onClick={() => onFilterChange("")} className={SMALL_BUTTON}>
            Clear filters
          </button>
        )}
      </div>
      <div id={bodyId} className={`${open ? "flex" : "hidden"} mt-3 flex-col gap-4 lg:flex`}>
        {shown.map((field) =>
          isRangeField(fields[field]) ? (
            <RangeFilter
              key={field}
              field={field}
              type={fields[field] === "number" ? "number" : "date"}
              facet={facets[field]}
              bounds={state.ranges[field] ?? { from: "", to: "" }}
              onChange={(bounds) => change(setRange(state, field, bounds))}
            />
          ) : (
            <ValueFilter
              key={field}
              field={field}
              facet={facets[field]}
              state={state}
              onToggle={(value) => change(toggleValue(state, field, value))}
            />
          ),
        )}
        <ExpressionBox key={filter} filter={filter} error={error} onApply={onFilterChange} />
      </div>
    </section>
  );
}

/** A bucket's value as the filter writes it ("true" for a boolean true), or null for "no value". */
function bucketValue(bucket: FacetBucket): string | null {
  return bucket.value === null || bucket.value === undefined ? null : String(bucket.value);
}

function ValueFilter(props: { field: string; facet?: Facet; state: PanelState; onToggle: (value: string) => void }) {
  const { field, facet, state, onToggle } = props;
  const [all, setAll] = useState(false);
  const buckets = facet?.buckets ?? [];
  const counted = buckets.filter((bucket) => bucketValue(bucket) !== null);
  const missing = buckets.find((bucket) => bucketValue(bucket) === null && bucket.from == null)?.count ?? 0;
  // Chosen values the facet no longer lists stay on offer, so they can be taken back.
  const chosen = (state.values[field] ?? []).filter(
    (value) => !counted.some((bucket) => bucketValue(bucket)?.toLowerCase() === value.toLowerCase()),
  );
  const chips = [
    ...counted.map((bucket) => ({ value: bucketValue(bucket)!, count: bucket.count as number | null })),
    ...chosen.map((value) => ({ value, count: null })),
  ];
  // Values that each name one image (captions, titles, the text read in it) are no use as chips
  // until asked for.
  const unique = FREE_TEXT_FIELDS.has(field) || (counted.length > 3 && counted.every((bucket) => bucket.count === 1));
  const initial = unique && !state.values[field]?.length ? 0 : CHIPS_SHOWN;
  const visible = all ? chips : chips.slice(0, initial);
  if (chips.length === 0 && !missing) return null;
  const label = (value: string) =>
    valueLabel(field, value, facet?.type === "boolean" ? formatMetadataValue(value === "true") : value);
  const name = fieldLabel(field);

  return (
    <div role="group" aria-label={name} className="flex flex-col gap-1.5" data-testid={`facet-${field}`}>
      <p className="text-xs font-semibold uppercase tracking-wide text-zinc-500 dark:text-zinc-400">{name}</p>
      <ul className="flex flex-wrap gap-1.5">
        {visible.map(({ value, count }) => {
          const pressed = isChosen(state, field, value);
          return (
            <li key={value} className="min-w-0 max-w-full">
              <button
                type="button"
                aria-pressed={pressed}
                aria-label={count !== null ? `${label(value)} (${count})` : label(value)}
                onClick={() => onToggle(value)}
                title={value}
                className={`inline-flex max-w-full items-center gap-1.5 rounded-full border px-2.5 py-1 text-xs font-medium focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-500 ${
                  pressed
                    ? "border-indigo-600 bg-indigo-600 text-white"
                    : "border-zinc-300 text-zinc-700 hover:bg-zinc-50 dark:border-zinc-700 dark:text-zinc-200 dark:hover:bg-zinc-800"
                }`}
              >
                <span className="truncate">{label(value)}</span>
                {count !== null && (
                  <span data-testid="facet-count" className={`tabular-nums ${pressed ? "text-white/80" : "text-zinc-500"}`}>
                    {count}
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
      <div className="flex flex-wrap items-center gap-2 text-xs text-zinc-500 dark:text-zinc-400">
        {chips.length > initial && (
          <button type="button" className={SMALL_BUTTON} aria-expanded={all} onClick={() => setAll((value) => !value)}>
            {all ? "Show fewer" : `Show all ${chips.length}${initial === 0 ? " values" : ""}`}
          </button>
        )}
        {missing > 0 && <span>No value: {missing}</span>}
      </div>
    </div>
  );
}

/** A facet's smallest or largest value as an input shows it (a date input wants the day). */
function inputBound(value: unknown, type: "number" | "date"): string {
  if (value === null || value === undefined) return "";
  return type === "date" ? String(value).slice(0, 10) : String(value);
}

function RangeFilter(props: {
  field: string;
  type: "number" | "date";
  facet?: Facet;
  bounds: RangeBounds;
  onChange: (bounds: RangeBounds) => void;
}) {
  const { field, type, facet, bounds, onChange } = props;
  const [from, setFrom] = useState(bounds.from);
  const [to, setTo] = useState(bounds.to);
  const [synced, setSynced] = useState(bounds);
  if (synced.from !== bounds.from || synced.to !== bounds.to) {
    // The URL's range changed (Back/Forward, the expression box): the inputs follow it.
    setSynced(bounds);
    setFrom(bounds.from);
    setTo(bounds.to);
  }
  const low = inputBound(facet?.min, type);
  const high = inputBound(facet?.max, type);
  const apply = (event: FormEvent) => {
    event.preventDefault();
    if (from.trim() !== bounds.from || to.trim() !== bounds.to) onChange({ from: from.trim(), to: to.trim() });
  };
  const limits = type === "date" ? { min: low || undefined, max: high || undefined } : {};

  return (
    <form role="group" aria-label={field} onSubmit={apply} className="flex flex-col gap-1.5" data-testid={`range-${field}`}>
      <p className="text-xs font-semibold uppercase tracking-wide text-zinc-500 dark:text-zinc-400">
        {field}
        {low && high && (
          <span className="ml-1.5 font-normal normal-case tracking-normal">
            ({low} – {high})
          </span>
        )}
      </p>
      <div className="flex items-center gap-1.5">
        <input
          type={type}
          aria-label={`${field} from`}
          value={from}
          placeholder={low}
          step={type === "number" ? "any" : undefined}
          onChange={(event) => setFrom(event.target.value)}
          className={INPUT}
          {...limits}
        />
        <span aria-hidden="true" className="text-zinc-400">
          –
        </span>
        <input
          type={type}
          aria-label={`${field} to`}
          value={to}
          placeholder={high}
          step={type === "number" ? "any" : undefined}
          onChange={(event) => setTo(event.target.value)}
          className={INPUT}
          {...limits}
        />
        {/* Enter in either input applies; the button is there for pointer and screen-reader use. */}
        <button type="submit" className={SMALL_BUTTON} aria-label={`Apply the ${field} range`}>
          Apply
        </button>
      </div>
    </form>
  );
}

function ExpressionBox({ filter, error, onApply }: { filter: string; error: string | null; onApply: (filter: string) => void }) {
  const [text, setText] = useState(filter);
  const errorId = useId();
  return (
    <form
      className="flex flex-col gap-1.5"
      onSubmit={(event) => {
        event.preventDefault();
        onApply(text.trim());
      }}
    >
      <label htmlFor={`${errorId}-input`} className="text-xs font-semibold uppercase tracking-wide text-zinc-500 dark:text-zinc-400">
        Filter expression
      </label>
      <div className="flex items-center gap-1.5">
        <input
          id={`${errorId}-input`}
          type="text"
          value={text}
          onChange={(event) => setText(event.target.value)}
          placeholder='year >= 2020 AND NOT (tags = "sea")'
          spellCheck={false}
          autoComplete="off"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
          className={`${INPUT} font-mono ${error ? "border-red-500 dark:border-red-500" : ""}`}
        />
        <button type="submit" className={SMALL_BUTTON}>
          Apply
        </button>
      </div>
      {error && (
        <p id={errorId} role="alert" data-testid="filter-error" className="text-xs text-red-600 dark:text-red-400">
          {error}
        </p>
      )}
    </form>
  );
}
