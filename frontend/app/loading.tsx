import { ResultSkeleton } from "@/components/result-skeleton";

/** Shown while the page itself is on its way (first load, slow server). */
export default function Loading() {
  return (
    <div className="flex min-h-dvh flex-col">
      <div className="h-[68px] border-b border-zinc-200 bg-white/80 dark:border-zinc-800 dark:bg-zinc-950/80" />
      <main id="main" className="mx-auto w-full max-w-screen-2xl flex-1 px-4 py-6 sm:px-6">
        <ResultSkeleton />
      </main>
    </div>
  );
}
