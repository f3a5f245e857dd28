"use client";

import { type FormEvent, useState } from "react";

import { CloseIcon, ImageIcon, SearchIcon } from "@/components/icons";
import { QueryChip } from "@/components/query-chip";
import { canRun, isShareable } from "@/lib/terms";
import type { ApiLimits, QueryTerm, TermSource } from "@/lib/types";

interface QueryBuilderProps {
  terms: QueryTerm[];
  onAdd: (source: TermSource, sign: 1 | -1) => void;
  onChange: (key: string, change: Partial<Pick<QueryTerm, "sign" | "weight">>) => void;
  onRemove: (key: string) => void;
  /** Open the file picker for an image term. */
  onPickImage: () => void;
  onRun: () => void;
  onClose: () => void;
  /** The API's limits: terms per query, a term's weight, a phrase's length (from /health). */
  limits: Pick<ApiLimits, "max_query_terms" | "max_term_weight" | "max_query_chars">;
}

/**
 * Combine words and images into one query: each chip is "more like" (+) or "less like" (−) a
 * word or an image, with a weight. Runs as POST /search with weighted terms.
 */
export function QueryBuilder(props: QueryBuilderProps) {
  const { terms, onAdd, onChange, onRemove, onPickImage, onRun, onClose, limits } = props;
  const [word, setWord] = useState("");
  const full = terms.length >= limits.max_query_terms;
  const addWord = (sign: 1 | -1) => {
    const text = word.trim();
    if (!text || full) return;
    onAdd({ kind: "text", text }, sign);
    setWord("");
  };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    addWord(1);
  };
  const runnable = canRun(terms, limits.max_query_terms);
  const button =
    "inline-flex items-center gap-1.5 rounded-full px-3 py-2 text-sm font-medium focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 disabled:cursor-not-allowed disabled:opacity-50";

  return (
    <section
      aria-labelledby="query-builder-title"
      data-testid="query-builder"
      className="mb-6 rounded-2xl border border-zinc-200 bg-white p-4 shadow-sm dark:border-zinc-800 dark:bg-zinc-900"
    >
      <div className="flex items-start justify-between gap-3">
        <div>
          <h2 id="query-builder-title" className="text-sm font-semibold text-zinc-900 dark:text-zinc-50">
            Combine words and images
          </h2>
          <p className="mt-0.5 text-xs text-zinc-500 dark:text-zinc-400">
            + finds more like a term, − less like it; the weight says how much.
          </p>
        </div>
        <button
          type="button"
          onClick={onClose}
          aria-label="Close the query builder"
          className="rounded-full p-1.5 text-zinc-500 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:hover:bg-zinc-800"
        >
          <CloseIcon className="size-4" />
        </button>
      </div>

      {terms.length > 0 ? (
        <ul aria-label="Query terms" className="mt-3 flex flex-wrap gap-2">
          {terms.map((term) => (
            <QueryChip
              key={term.key}
              term={term}
              onChange={(change) => onChange(term.key, change)}
              onRemove={() => onRemove(term.key)}
              maxWeight={limits.max_term_weight}
            />
          ))}
        </ul>
      ) : (
        <p className="mt-3 text-sm text-zinc-500 dark:text-zinc-400">
          No terms yet: add words below, or use “Add to query” and “Exclude” on results.
        </p>
      )}

      <form onSubmit={submit} className="mt-3 flex flex-wrap items-center gap-2">
        <label htmlFor="query-builder-word" className="sr-only">
          Word or phrase to add
        </label>
        <input
          id="query-builder-word"
          value={word}
          onChange={(event) => setWord(event.target.value)}
          placeholder="Add a word or phrase…"
          maxLength={limits.max_query_chars}
          autoComplete="off"
          className="h-9 min-w-0 flex-1 basis-48 rounded-full border border-zinc-300 bg-white px-4 text-sm text-zinc-900 outline-none focus:border-indigo-500 focus:ring-4 focus:ring-indigo-500/15 dark:border-zinc-700 dark:bg-zinc-950 dark:text-zinc-100"
        />
        <button type="submit" disabled={!word.trim() || full} className={`${button} bg-emerald-600 text-white hover:bg-emerald-500`}>
          + More like
        </button>
        <button
          type="button"
          onClick={() => addWord(-1)}
          disabled={!word.trim() || full}
          className={`${button} bg-rose-600 text-white hover:bg-rose-500`}
        >
          − Less like
        </button>
        <button
          type="button"
          onClick={onPickImage}
          disabled={full}
          className={`${button} border border-zinc-300 text-zinc-700 hover:bg-zinc-100 dark:border-zinc-700 dark:text-zinc-200 dark:hover:bg-zinc-800`}
        >
          <ImageIcon className="size-4" />
          Add an image
        </button>
      </form>

      <div className="mt-4 flex flex-wrap items-center justify-between gap-3 border-t border-zinc-100 pt-3 dark:border-zinc-800">
        <p className="text-xs text-zinc-500 dark:text-zinc-400" data-testid="query-builder-note">
          {terms.length > 0 && !terms.some((term) => term.sign > 0)
            ? "Add at least one “more like” (+) term."
            : terms.some((term) => !isShareable(term))
              ? "Uploaded images are not kept in the link: a shared link has only the words and result images."
              : `Up to ${limits.max_query_terms} terms.`}
        </p>
        <button
          type="button"
          onClick={onRun}
          disabled={!runnable}
          className={`${button} bg-indigo-600 px-5 font-semibold text-white hover:bg-indigo-500 dark:bg-indigo-500 dark:hover:bg-indigo-400`}
        >
          <SearchIcon className="size-4" />
          Search combined
        </button>
      </div>
    </section>
  );
}
