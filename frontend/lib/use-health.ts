"use client";

/** The API's /health answer: which encoder serves, how many images, and whether it is reachable. */

import { useCallback, useEffect, useState } from "react";

import type { ApiClient } from "@/lib/api";
import { isAbortError } from "@/lib/api";
import type { HealthResponse } from "@/lib/types";

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
  return { state, refresh };
}
