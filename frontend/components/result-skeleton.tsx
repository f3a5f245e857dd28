/** Placeholder cards shaped like results, shown while a search runs. */

export const GRID_CLASSES =
  "grid grid-cols-1 gap-4 sm:grid-cols-2 md:grid-cols-3 lg:grid-cols-4 xl:grid-cols-5 2xl:grid-cols-6";
/** The grid beside the filter panel (a sidebar from lg up): one column fewer, so cards keep their width. */
export const GRID_BESIDE_PANEL_CLASSES =
  "grid grid-cols-1 gap-4 sm:grid-cols-2 md:grid-cols-3 lg:grid-cols-3 xl:grid-cols-4 2xl:grid-cols-5";

export function SkeletonCards({ count }: { count: number }) {
  return Array.from({ length: count }, (_, index) => (
    <li
      key={index}
      data-testid="result-skeleton"
      aria-hidden="true"
      className="overflow-hidden rounded-2xl border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900"
    >
      <div className="aspect-[4/3] animate-pulse bg-zinc-200 dark:bg-zinc-800" />
      <div className="flex items-center justify-between px-3 py-3">
        <div className="h-3.5 w-20 animate-pulse rounded-full bg-zinc-200 dark:bg-zinc-800" />
        <div className="h-3.5 w-24 animate-pulse rounded-full bg-zinc-200 dark:bg-zinc-800" />
      </div>
    </li>
  ));
}

export function ResultSkeleton({ count = 12 }: { count?: number }) {
  return (
    <div role="status" aria-live="polite" aria-busy="true">
      <span className="sr-only">Searching…</span>
      <div className="mb-4 h-6 w-56 animate-pulse rounded-full bg-zinc-200 dark:bg-zinc-800" aria-hidden="true" />
      <ul className={GRID_CLASSES}>
        <SkeletonCards count={count} />
      </ul>
    </div>
  );
}
