"use client";

import Link from "next/link";

import { EncoderStatus, FallbackBanner } from "@/components/encoder-status";
import { SearchIcon } from "@/components/icons";
import { SearchBar } from "@/components/search-bar";
import type { HealthState } from "@/hooks/use-health";

interface SiteHeaderProps {
  query: string;
  health: HealthState;
  /** The API's `max_query_chars`, for the search box. */
  maxQueryChars: number;
  onSearch: (text: string) => void;
  onPickImage: () => void;
  onCombine: () => void;
  onHome: () => void;
}

export function SiteHeader(props: SiteHeaderProps) {
  const { query, health, maxQueryChars, onSearch, onPickImage, onCombine, onHome } = props;
  return (
    <header className="sticky top-0 z-30 border-b border-zinc-200/80 bg-white/80 backdrop-blur-lg dark:border-zinc-800/80 dark:bg-zinc-950/80">
      <div className="mx-auto grid max-w-screen-2xl grid-cols-[1fr_auto] items-center gap-x-4 gap-y-3 px-4 py-3 sm:px-6 lg:grid-cols-[minmax(0,1fr)_minmax(0,40rem)_minmax(0,1fr)]">
        <Link
          href="/"
          onClick={(event) => {
            event.preventDefault(); // clear the image query too, without a round trip
            onHome();
          }}
          className="flex items-center gap-2.5 rounded-lg focus-visible:outline-2 focus-visible:outline-offset-4 focus-visible:outline-indigo-500"
        >
          <span className="flex size-9 items-center justify-center rounded-xl bg-gradient-to-br from-indigo-500 to-violet-600 text-white shadow-sm">
            <SearchIcon className="size-5" />
          </span>
          <span className="text-lg font-semibold tracking-tight text-zinc-900 dark:text-zinc-50">
            Image<span className="text-indigo-600 dark:text-indigo-400">Search</span>
          </span>
        </Link>
        <div className="col-span-2 row-start-2 lg:col-span-1 lg:col-start-2 lg:row-start-1">
          <SearchBar
            query={query}
            onSearch={onSearch}
            onPickImage={onPickImage}
            onCombine={onCombine}
            maxLength={maxQueryChars}
          />
        </div>
        <div className="flex min-w-0 justify-end">
          <EncoderStatus state={health} />
        </div>
      </div>
      {health.status === "ok" && <FallbackBanner health={health.health} />}
    </header>
  );
}
