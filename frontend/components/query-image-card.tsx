"use client";

import { type ReactNode, useState } from "react";

import { BrokenImageIcon, CloseIcon } from "@/components/icons";

interface QueryImageCardProps {
  previewUrl: string;
  label: string;
  /** What kind of image search this is ("Searching with an image", "More like this"). */
  kicker: string;
  /** A line under the name (the text read in the image). */
  note?: ReactNode;
  onClear: () => void;
}

/** The image being searched with, and a way to clear it. */
export function QueryImageCard({ previewUrl, label, kicker, note, onClear }: QueryImageCardProps) {
  const [failed, setFailed] = useState(false);
  return (
    <div
      data-testid="query-image"
      className="flex items-center gap-4 rounded-2xl border border-zinc-200 bg-white p-3 pr-4 shadow-sm dark:border-zinc-800 dark:bg-zinc-900"
    >
      <div className="flex size-16 shrink-0 items-center justify-center overflow-hidden rounded-xl bg-zinc-100 dark:bg-zinc-800">
        {failed ? (
          <BrokenImageIcon className="size-6 text-zinc-400" />
        ) : (
          // eslint-disable-next-line @next/next/no-img-element -- a local object URL or the API's image
          <img
            src={previewUrl}
            alt={`Query image: ${label}`}
            className="size-full object-cover"
            onError={() => setFailed(true)}
          />
        )}
      </div>
      <div className="min-w-0 flex-1">
        <p className="text-xs font-medium uppercase tracking-wide text-indigo-600 dark:text-indigo-400">{kicker}</p>
        <p className="truncate text-sm font-medium text-zinc-900 dark:text-zinc-100" title={label}>
          {label}
        </p>
        {note}
      </div>
      <button
        type="button"
        onClick={onClear}
        className="inline-flex shrink-0 items-center gap-1.5 rounded-full border border-zinc-300 px-3 py-1.5 text-sm font-medium text-zinc-700 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 dark:border-zinc-700 dark:text-zinc-300 dark:hover:bg-zinc-800"
      >
        <CloseIcon className="size-4" />
        Clear image
      </button>
    </div>
  );
}
