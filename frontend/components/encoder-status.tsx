/** Which encoder serves the index (from /health), and a banner when it is a fallback, not CLIP. */

import { AlertIcon } from "@/components/icons";
import type { HealthState } from "@/hooks/use-health";
import { plural } from "@/lib/format";
import type { HealthResponse } from "@/lib/types";

export function encoderName(health: HealthResponse): string {
  return health.encoder_label?.trim() || health.model;
}

export function EncoderStatus({ state }: { state: HealthState }) {
  const base =
    "inline-flex max-w-full items-center gap-2 truncate rounded-full border px-3 py-1 text-xs font-medium";
  if (state.status === "loading") {
    return (
      <span data-testid="encoder-status" className={`${base} border-zinc-200 text-zinc-500 dark:border-zinc-800`}>
        <span className="size-2 animate-pulse rounded-full bg-zinc-400" aria-hidden="true" />
        Connecting…
      </span>
    );
  }
  if (state.status === "error") {
    return (
      <span
        data-testid="encoder-status"
        title="The search API did not answer /health"
        className={`${base} border-red-200 text-red-700 dark:border-red-900/60 dark:text-red-300`}
      >
        <span className="size-2 rounded-full bg-red-500" aria-hidden="true" />
        API offline
      </span>
    );
  }
  const { health } = state;
  const details = [
    `Encoder: ${health.encoder}`,
    `Model: ${health.model} (${health.pretrained})`,
    `Index: ${health.index_type}, ${health.dimension} dimensions, ${plural(health.images, "image")}`,
    `Built: ${health.created_at}`,
  ].join("\n");
  const dot = health.fallback ? "bg-amber-500" : "bg-emerald-500";
  return (
    <span
      data-testid="encoder-status"
      title={details}
      className={`${base} border-zinc-200 text-zinc-600 dark:border-zinc-800 dark:text-zinc-400`}
    >
      <span className={`size-2 shrink-0 rounded-full ${dot}`} aria-hidden="true" />
      <span className="truncate">
        <span className="sr-only">Encoder: </span>
        {encoderName(health)}
        <span className="hidden sm:inline">
          <span aria-hidden="true"> · </span>
          <span className="sr-only">, </span>
          {plural(health.images, "image")}
        </span>
      </span>
    </span>
  );
}

export function FallbackBanner({ health }: { health: HealthResponse }) {
  if (!health.fallback) return null;
  return (
    <div
      role="alert"
      data-testid="fallback-banner"
      className="border-b border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-700/50 dark:bg-amber-950/60 dark:text-amber-100"
    >
      <div className="mx-auto flex max-w-screen-2xl items-start gap-3 px-4 py-2.5 text-sm sm:px-6">
        <AlertIcon className="mt-0.5 size-4 shrink-0" />
        <p>
          <strong className="font-semibold">Lower-quality fallback encoder in use.</strong>{" "}
          {health.warning ||
            `The API is serving ${encoderName(health)} instead of CLIP, so results may be less relevant.`}
        </p>
      </div>
    </div>
  );
}
