"use client";

import { AlertIcon, ImageIcon, RetryIcon } from "@/components/icons";
import type { UserMessage } from "@/lib/errors";

interface ErrorStateProps {
  message: UserMessage;
  onRetry: () => void;
  /** Offered instead of a retry when the problem is the image itself. */
  onPickImage?: () => void;
}

export function ErrorState({ message, onRetry, onPickImage }: ErrorStateProps) {
  const primary =
    "inline-flex items-center gap-2 rounded-full bg-zinc-900 px-5 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-zinc-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500 dark:bg-white dark:text-zinc-900 dark:hover:bg-zinc-200";
  const showPicker = !message.retryable && onPickImage;
  return (
    <section
      role="alert"
      data-testid="error-state"
      className="mx-auto mt-6 flex max-w-lg flex-col items-center rounded-3xl border border-red-200 bg-red-50/70 px-6 py-10 text-center dark:border-red-900/50 dark:bg-red-950/30"
    >
      <span className="flex size-12 items-center justify-center rounded-full bg-red-100 text-red-600 dark:bg-red-900/40 dark:text-red-300">
        <AlertIcon className="size-6" />
      </span>
      <h2 className="mt-4 text-lg font-semibold text-zinc-900 dark:text-zinc-50">{message.title}</h2>
      <p className="mt-2 text-sm text-zinc-700 dark:text-zinc-300">{message.message}</p>
      <div className="mt-6">
        {showPicker ? (
          <button type="button" onClick={onPickImage} className={primary}>
            <ImageIcon className="size-4" />
            Choose another image
          </button>
        ) : (
          <button type="button" onClick={onRetry} className={primary}>
            <RetryIcon className="size-4" />
            Try again
          </button>
        )}
      </div>
    </section>
  );
}
