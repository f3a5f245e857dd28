"use client";

/**
 * A larger view of one result in a modal <dialog>: the browser traps focus, closes it on Escape
 * and gives focus back to the card. Left/Right arrows move through the results.
 */

import { type KeyboardEvent, useEffect, useRef, useState } from "react";

import {
  BrokenImageIcon,
  ChevronLeftIcon,
  ChevronRightIcon,
  CloseIcon,
  ExternalIcon,
  SparklesIcon,
} from "@/components/icons";
import { HighlightedText } from "@/components/highlighted-text";
import type { MetadataFields } from "@/lib/filters";
import { allMetadata, fileNameOf, formatScore } from "@/lib/format";
import type { SearchResult } from "@/lib/types";

interface LightboxProps {
  results: SearchResult[];
  index: number;
  fields: MetadataFields;
  onIndexChange: (index: number) => void;
  onClose: () => void;
  onMoreLikeThis: (result: SearchResult) => void;
  onAddToQuery: (result: SearchResult, sign: 1 | -1) => void;
}

export function Lightbox(props: LightboxProps) {
  const { results, index, fields, onIndexChange, onClose, onMoreLikeThis, onAddToQuery } = props;
  const dialog = useRef<HTMLDialogElement>(null);
  const result = results[index];
  const hasPrevious = index > 0;
  const hasNext = index < results.length - 1;

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (!element.open) element.showModal();
    const root = document.documentElement;
    const overflow = root.style.overflow;
    root.style.overflow = "hidden"; // no page scrolling behind the dialog
    return () => {
      root.style.overflow = overflow;
      if (element.open) element.close();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent<HTMLDialogElement>) => {
    if (event.key === "ArrowLeft" && hasPrevious) {
      event.preventDefault();
      onIndexChange(index - 1);
    } else if (event.key === "ArrowRight" && hasNext) {
      event.preventDefault();
      onIndexChange(index + 1);
    }
  };

  if (!result) return null;
  const name = fileNameOf(result.source);
  const lightButton =
    "inline-flex items-center gap-1.5 rounded-full px-3 py-2 text-sm font-medium text-white/80 hover:bg-white/10 hover:text-white focus-visible:outline-2 focus-visible:outline-white";
  const navButton =
    "absolute top-1/2 z-10 -translate-y-1/2 rounded-full bg-white/10 p-3 text-white backdrop-blur transition hover:bg-white/20 focus-visible:outline-2 focus-visible:outline-white disabled:invisible";

  return (
    <dialog
      ref={dialog}
      aria-label={`Result ${index + 1} of ${results.length}: ${name}`}
      onClose={onClose}
      onKeyDown={onKeyDown}
      className="m-0 h-dvh max-h-none w-screen max-w-none bg-transparent p-0 text-white backdrop:bg-black/85 backdrop:backdrop-blur-sm"
    >
      <div className="flex h-full flex-col">
        <header className="flex items-center justify-between gap-4 px-4 py-3 sm:px-6">
          <p className="text-sm text-white/80" aria-live="polite">
            <span data-testid="lightbox-position" className="font-medium text-white">
              {index + 1} / {results.length}
            </span>
            <span className="mx-2 text-white/40">·</span>
            Score <span className="font-mono font-semibold tabular-nums text-white">{formatScore(result.score)}</span>
          </p>
          <button
            type="button"
            onClick={() => dialog.current?.close()}
            aria-label="Close the larger view"
            className="rounded-full p-2 text-white/80 hover:bg-white/10 hover:text-white focus-visible:outline-2 focus-visible:outline-white"
          >
            <CloseIcon className="size-6" />
          </button>
        </header>

        <div
          className="relative flex min-h-0 flex-1 items-center justify-center px-4 sm:px-20"
          // A click beside the image closes the view, as on the backdrop of most photo viewers.
          onClick={(event) => event.target === event.currentTarget && dialog.current?.close()}
        >
          <button
            type="button"
            className={`${navButton} left-2 sm:left-6`}
            onClick={() => onIndexChange(index - 1)}
            disabled={!hasPrevious}
            aria-label="Previous result"
          >
            <ChevronLeftIcon className="size-6" />
          </button>
          <LightboxImage key={result.id} result={result} alt={`Result ${index + 1}: ${name}`} />
          <button
            type="button"
            className={`${navButton} right-2 sm:right-6`}
            onClick={() => onIndexChange(index + 1)}
            disabled={!hasNext}
            aria-label="Next result"
          >
            <ChevronRightIcon className="size-6" />
          </button>
        </div>

        <footer className="flex flex-wrap items-center justify-between gap-3 px-4 py-4 sm:px-6">
          <div className="min-w-0 flex-1">
            {result.caption?.trim() && (
              <p data-testid="lightbox-caption" className="line-clamp-2 text-base font-medium text-white">
                {result.caption.trim()}
              </p>
            )}
            {result.ocr_text?.trim() && (
              <div data-testid="lightbox-ocr-text" className="mt-1 max-w-prose text-sm text-white/90">
                <p className="text-xs font-semibold uppercase tracking-wide text-white/55">Text in the image</p>
                <p className="max-h-24 overflow-y-auto whitespace-pre-line">
                  <HighlightedText
                    text={result.ocr_text.trim()}
                    words={result.matched_words ?? []}
                    markClassName="rounded-sm bg-amber-300 px-0.5 font-semibold text-zinc-950"
                  />
                </p>
              </div>
            )}
            <p className="truncate text-sm text-white/70" title={result.source}>
              {name}
            </p>
            <MetadataList metadata={result.metadata} fields={Object.keys(fields)} />
          </div>
          <div className="flex flex-wrap items-center justify-end gap-2">
            <a
              href={result.image_url}
              target="_blank"
              rel="noreferrer"
              className="inline-flex items-center gap-1.5 rounded-full px-3 py-2 text-sm font-medium text-white/80 hover:bg-white/10 hover:text-white focus-visible:outline-2 focus-visible:outline-white"
            >
              <ExternalIcon className="size-4" />
              Open original
            </a>
            <button
              type="button"
              onClick={() => onAddToQuery(result, 1)}
              className={lightButton}
              title="Add to query: more like this image"
            >
              + Add to query
            </button>
            <button
              type="button"
              onClick={() => onAddToQuery(result, -1)}
              className={lightButton}
              title="Exclude: less like this image"
            >
              − Exclude
            </button>
            <button
              type="button"
              onClick={() => onMoreLikeThis(result)}
              className="inline-flex items-center gap-1.5 rounded-full bg-white px-4 py-2 text-sm font-semibold text-zinc-900 hover:bg-zinc-200 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-white"
            >
              <SparklesIcon className="size-4" />
              More like this
            </button>
          </div>
        </footer>
      </div>
    </dialog>
  );
}

function LightboxImage({ result, alt }: { result: SearchResult; alt: string }) {
  const [failed, setFailed] = useState(false);
  if (failed) {
    return (
      <div className="flex flex-col items-center gap-2 text-white/60">
        <BrokenImageIcon className="size-12" />
        <p className="text-sm">This image couldn&apos;t be loaded.</p>
      </div>
    );
  }
  return (
    // eslint-disable-next-line @next/next/no-img-element -- served by the API or its origin host
    <img
      src={result.image_url}
      alt={alt}
      data-testid="lightbox-image"
      onError={() => setFailed(true)}
      className="max-h-full max-w-full rounded-lg object-contain shadow-2xl"
    />
  );
}

/** Every metadata field of the result, as a definition list (scrolls when there are many). */
function MetadataList({ metadata, fields }: { metadata: SearchResult["metadata"]; fields: string[] }) {
  const entries = allMetadata(metadata, fields);
  if (entries.length === 0) return null;
  return (
    <dl
      data-testid="lightbox-metadata"
      aria-label="Metadata"
      className="mt-2 grid max-h-28 grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 overflow-y-auto text-xs text-white/80"
    >
      {entries.map(([field, value]) => (
        <div key={field} className="contents">
          <dt className="text-white/55">{field}</dt>
          <dd className="min-w-0 truncate" title={value} data-field={field}>
            {value}
          </dd>
        </div>
      ))}
    </dl>
  );
}
