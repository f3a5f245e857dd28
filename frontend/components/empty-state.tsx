"use client";

import { ImageIcon, SearchIcon, UploadIcon } from "@/components/icons";
import { EXAMPLE_QUERIES } from "@/lib/config";
import { plural } from "@/lib/format";

interface WelcomeProps {
  /** Indexed images, once /health has answered. */
  imageCount: number | null;
  onExample: (text: string) => void;
  onPickImage: () => void;
}

/** Before the first search: what the app does, example queries to click, and image input. */
export function Welcome({ imageCount, onExample, onPickImage }: WelcomeProps) {
  return (
    <section className="mx-auto flex max-w-3xl flex-col items-center py-10 text-center sm:py-16" data-testid="welcome">
      <span className="mb-5 inline-flex size-14 items-center justify-center rounded-2xl bg-gradient-to-br from-indigo-500 to-violet-600 text-white shadow-lg shadow-indigo-500/25">
        <SearchIcon className="size-7" />
      </span>
      <h1 className="text-balance text-3xl font-semibold tracking-tight text-zinc-900 sm:text-4xl dark:text-zinc-50">
        Find any photo by describing it
      </h1>
      <p className="mt-3 max-w-xl text-pretty text-base text-zinc-600 dark:text-zinc-400">
        Search {imageCount === null ? "the collection" : plural(imageCount, "image")} by what they show, not by file
        name. Type a description, or search with an image to find similar ones.
      </p>

      <h2 className="mt-10 text-xs font-semibold uppercase tracking-wider text-zinc-500 dark:text-zinc-400">Try</h2>
      <ul className="mt-3 flex flex-wrap justify-center gap-2">
        {EXAMPLE_QUERIES.map((example) => (
          <li key={example}>
            <button
              type="button"
              onClick={() => onExample(example)}
              className="rounded-full border border-zinc-200 bg-white px-4 py-2 text-sm text-zinc-700 shadow-sm transition hover:border-indigo-300 hover:text-indigo-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 dark:border-zinc-800 dark:bg-zinc-900 dark:text-zinc-300 dark:hover:border-indigo-500/50 dark:hover:text-indigo-300"
            >
              {example}
            </button>
          </li>
        ))}
      </ul>

      <div className="mt-10 w-full rounded-3xl border-2 border-dashed border-zinc-300 bg-zinc-50/60 px-6 py-8 dark:border-zinc-700 dark:bg-zinc-900/40">
        <UploadIcon className="mx-auto size-8 text-zinc-400" />
        <p className="mt-3 text-sm text-zinc-600 dark:text-zinc-400">
          Drag an image anywhere onto this page, or paste one with{" "}
          <kbd className="rounded border border-zinc-300 bg-white px-1.5 py-0.5 font-mono text-xs dark:border-zinc-700 dark:bg-zinc-800">
            Ctrl
          </kbd>{" "}
          +{" "}
          <kbd className="rounded border border-zinc-300 bg-white px-1.5 py-0.5 font-mono text-xs dark:border-zinc-700 dark:bg-zinc-800">
            V
          </kbd>
        </p>
        <button
          type="button"
          onClick={onPickImage}
          className="mt-4 inline-flex items-center gap-2 rounded-full bg-zinc-900 px-5 py-2.5 text-sm font-semibold text-white shadow-sm transition hover:bg-zinc-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 dark:bg-white dark:text-zinc-900 dark:hover:bg-zinc-200"
        >
          <ImageIcon className="size-4" />
          Choose an image
        </button>
      </div>
    </section>
  );
}

/** A search that returned nothing (an empty index, or a filter in a future API). */
export function NoResults({ onClear }: { onClear: () => void }) {
  return (
    <section className="mx-auto flex max-w-md flex-col items-center py-16 text-center" data-testid="no-results">
      <SearchIcon className="size-10 text-zinc-300 dark:text-zinc-600" />
      <h2 className="mt-4 text-lg font-semibold text-zinc-900 dark:text-zinc-50">No matching images</h2>
      <p className="mt-2 text-sm text-zinc-600 dark:text-zinc-400">
        The index returned nothing for this search. Try other words or another image.
      </p>
      <button
        type="button"
        onClick={onClear}
        className="mt-6 rounded-full border border-zinc-300 px-4 py-2 text-sm font-medium hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:hover:bg-zinc-800"
      >
        Start over
      </button>
    </section>
  );
}
