"use client";

import { type FormEvent, useState } from "react";

import { CloseIcon, CombineIcon, ImageIcon, SearchIcon } from "@/components/icons";

interface SearchBarProps {
  /** The query in the URL; the box follows it on Back/Forward. */
  query: string;
  onSearch: (text: string) => void;
  onPickImage: () => void;
  /** Open the query builder (combine words and images). */
  onCombine: () => void;
  /** The API's `max_query_chars`. */
  maxLength: number;
}

export function SearchBar({ query, onSearch, onPickImage, onCombine, maxLength }: SearchBarProps) {
  const [draft, setDraft] = useState(query);
  const [shownQuery, setShownQuery] = useState(query);
  if (query !== shownQuery) {
    // The URL changed (a search, Back/Forward): show its query, not the stale draft.
    setShownQuery(query);
    setDraft(query);
  }

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const text = draft.trim();
    if (text) onSearch(text);
  };

  return (
    <form role="search" onSubmit={submit} className="flex w-full items-center gap-2">
      <div className="group relative flex min-w-0 flex-1 items-center rounded-full border border-zinc-300 bg-white shadow-sm transition focus-within:border-indigo-500 focus-within:ring-4 focus-within:ring-indigo-500/15 dark:border-zinc-700 dark:bg-zinc-900 dark:focus-within:border-indigo-400">
        <SearchIcon className="pointer-events-none absolute left-4 size-5 text-zinc-400" />
        <label htmlFor="search-input" className="sr-only">
          Describe the images you are looking for
        </label>
        <input
          id="search-input"
          type="search"
          name="q"
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
          placeholder="Describe a photo… e.g. a dog on the beach"
          autoComplete="off"
          enterKeyHint="search"
          maxLength={maxLength}
          className="h-12 w-full min-w-0 rounded-full bg-transparent pl-12 pr-32 text-base text-zinc-900 outline-none placeholder:text-zinc-400 dark:text-zinc-100 dark:placeholder:text-zinc-500 [&::-webkit-search-cancel-button]:hidden"
        />
        <div className="absolute right-2 flex items-center gap-1">
          {draft && (
            <button
              type="button"
              onClick={() => setDraft("")}
              aria-label="Clear the search text"
              className="rounded-full p-2 text-zinc-400 hover:bg-zinc-100 hover:text-zinc-700 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:hover:bg-zinc-800 dark:hover:text-zinc-200"
            >
              <CloseIcon className="size-4" />
            </button>
          )}
          <button
            type="button"
            onClick={onPickImage}
            aria-label="Search with an image"
            title="Search with an image (or drop / paste one anywhere)"
            className="rounded-full p-2 text-zinc-500 hover:bg-zinc-100 hover:text-indigo-600 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-indigo-300"
          >
            <ImageIcon className="size-5" />
          </button>
          <button
            type="button"
            onClick={onCombine}
            aria-label="Combine words and images"
            title="Combine words and images (more like / less like)"
            className="rounded-full p-2 text-zinc-500 hover:bg-zinc-100 hover:text-indigo-600 focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-indigo-300"
          >
            <CombineIcon className="size-5" />
          </button>
        </div>
      </div>
      <button
        type="submit"
        className="inline-flex h-12 shrink-0 items-center rounded-full bg-indigo-600 px-4 text-sm font-semibold sm:px-5 text-white shadow-sm transition hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 active:bg-indigo-700 dark:bg-indigo-500 dark:hover:bg-indigo-400"
      >
        <SearchIcon className="size-5 sm:hidden" />
        <span className="max-sm:sr-only">Search</span>
      </button>
    </form>
  );
}
