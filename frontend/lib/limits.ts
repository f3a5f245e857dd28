/**
 * The API's request limits (results per page, terms per query, term weight, text length, …). They
 * are the backend's settings, so the UI reads them from /health (`limits`) rather than restating
 * them; DEFAULT_LIMITS only stands in until /health has answered, or when it cannot.
 */

import type { ApiLimits, HealthResponse } from "@/lib/types";

/**
 * The backend's default settings, used before /health answers. lib/limits.test.ts checks them
 * against the maxima of the committed OpenAPI schema (lib/openapi.json, generated from the
 * backend's default settings), so they cannot drift from the backend's defaults unnoticed.
 */
export const DEFAULT_LIMITS: Readonly<ApiLimits> = Object.freeze({
  max_top_k: 200,
  max_offset: 1000,
  max_query_terms: 8,
  max_term_weight: 10,
  max_query_chars: 500,
  max_upload_bytes: 20 * 1024 * 1024,
  max_batch_queries: 64,
  queue_budget_s: 0.5,
});

/**
 * The limits a /health answer reports, or the defaults when there is none yet. An API older than
 * `limits`, or one that sends a value that is not a positive number, gets the default for it.
 */
export function limitsOf(health: HealthResponse | null | undefined): ApiLimits {
  const reported = (health?.limits ?? {}) as Partial<Record<keyof ApiLimits, unknown>>;
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(limits) as (keyof ApiLimits)[]) {
    const value = reported[key];
    const zeroOk = key === "max_offset" || key === "queue_budget_s"; // 0: none / no load shedding
    const valid = typeof value === "number" && Number.isFinite(value) && (value > 0 || (zeroOk && value === 0));
    if (valid) limits[key] = value;
  }
  return limits;
}
