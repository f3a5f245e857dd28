"use client";

/**
 * The API's /health answer: which encoder serves, how many images, whether it is reachable, and
 * the request limits it enforces (the defaults of lib/limits.ts until it has answered).
 */

import { useCallback, useEffect, useMemo, useState } from "react";

import type { ApiClient } from "@/lib/api";
import { isAbortError } from "@/lib/api";
import { limitsOf } from "@/lib/limits";
import type { ApiLimits, HealthResponse } from "@/lib/types";

export type HealthState =
  | { status: "loading" }
  | { status: "ok"; health: HealthResponse }
  | { status: "error"; error: unknown };

export function useHealth(api: ApiClient) {
  const [state, setState] = useState<HealthState>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    api
      .health(controller.signal)
      .then((health) => setState({ status: "ok", health }))
      .catch((error: unknown) => {
        if (!isAbortError(error)) setState({ status: "error", error });
      });
    return () => controller.abort();
  }, [api, attempt]);

  // Asked again after a failed search is retried, so the header follows the API coming back.
  const refresh = useCallback(() => setAttempt((n) => n + 1), []);
  // The last limits reported stay in force while /health is asked again, or fails.
  const [limits, setLimits] = useState<ApiLimits>(() => limitsOf(null));
  const reported = useMemo(() => (state.status === "ok" ? limitsOf(state.health) : null), [state]);
  if (reported && !sameLimits(reported, limits)) setLimits(reported);
  return { state, refresh, limits };
}

function sameLimits(a: ApiLimits, b: ApiLimits): boolean {
  return (Object.keys(a) as (keyof ApiLimits)[]).every((key) => a[key] === b[key]);
}
