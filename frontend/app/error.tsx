"use client";

import { useEffect } from "react";

import { ErrorState } from "@/components/error-state";

/** A failure while rendering the page (not a failed search: SearchApp shows those itself). */
export default function PageError({ error, retry }: { error: unknown; retry: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);

  return (
    <main id="main" className="mx-auto w-full max-w-screen-2xl flex-1 px-4 py-16 sm:px-6">
      <ErrorState
        message={{
          title: "This page failed to load",
          message: "Something went wrong while showing the search page. Try again, or reload the page.",
          retryable: true,
        }}
        onRetry={retry}
      />
    </main>
  );
}
