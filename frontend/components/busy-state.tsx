/** The "busy, retrying" state: the API refused the search for now (503 + Retry-After) and it will be asked again. */

import type { BusyRetry } from "@/lib/retry";

export function BusyState({ retry }: { retry: BusyRetry }) {
  const seconds = Math.max(1, Math.round(retry.delayMs / 1000));
  return (
    <div
      role="status"
      aria-live="polite"
      data-testid="busy-state"
      className="mb-4 rounded-2xl border border-amber-200 bg-amber-50/80 px-4 py-3 text-sm text-amber-900 dark:border-amber-900/60 dark:bg-amber-950/30 dark:text-amber-200"
    >
      <p className="font-semibold">The search service is busy</p>
      <p className="mt-0.5">
        Retrying in {seconds} s (attempt {retry.attempt} of {retry.maxAttempts})…
      </p>
    </div>
  );
}
