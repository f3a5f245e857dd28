/**
 * Retrying a search the API refused because it was busy: a 503 with `Retry-After` (the API's load
 * shedding, docs/reliability.md "Overload"). Such a refusal is immediate and cheap, and the server
 * says when to come back; a 503 without the header (the search timed out) is not retried here.
 *
 * The schedule: attempt n waits max(Retry-After, 1 s x 2^(n-1), capped at 16 s), plus up to 50 %
 * random jitter (never less than the server asked, and clients refused together do not all come
 * back together); after MAX_ATTEMPTS refusals the last one is the search's error.
 */

import { ApiError, isAbortError } from "@/lib/api";

export interface BackoffPolicy {
  /** The first wait when the server asks for less; it doubles with each attempt. */
  baseMs: number;
  /** The longest exponential wait (a longer Retry-After is still honoured). */
  capMs: number;
  /** The most retries before the refusal is shown as an error. */
  maxAttempts: number;
  /** Up to this fraction of the wait is added at random. */
  jitter: number;
}

export const BUSY_BACKOFF: Readonly<BackoffPolicy> = Object.freeze({
  baseMs: 1000,
  capMs: 16_000,
  maxAttempts: 5,
  jitter: 0.5,
});

/** A retry waiting to happen: shown as the "busy, retrying" state. */
export interface BusyRetry {
  /** 1 for the first retry. */
  attempt: number;
  maxAttempts: number;
  /** How long until this retry is sent. */
  delayMs: number;
}

/** Whether an error is the API saying "busy, retry after N s". */
export function isBusy(error: unknown): error is ApiError & { retryAfterS: number } {
  return error instanceof ApiError && error.status === 503 && error.retryAfterS !== undefined;
}

/** The wait before retry number `attempt` (1-based); `random` in [0, 1). */
export function retryDelayMs(
  attempt: number,
  retryAfterS: number,
  random: () => number = Math.random,
  policy: BackoffPolicy = BUSY_BACKOFF,
): number {
  const exponential = Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1));
  const wait = Math.max(retryAfterS * 1000, exponential);
  return Math.round(wait * (1 + policy.jitter * random()));
}

/** Resolves after `ms`, or rejects with an AbortError as soon as `signal` aborts (a newer search). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException("the search was replaced", "AbortError"));
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DOMException("the search was replaced", "AbortError"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RetryOptions {
  signal: AbortSignal;
  /** Called before each wait, with what is about to happen. */
  onBusy: (retry: BusyRetry) => void;
  policy?: BackoffPolicy;
  random?: () => number;
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * `attempt()`, again after each busy refusal (up to the policy's attempts, waiting the schedule);
 * any other error, the last refusal, or an abort is thrown as it came.
 */
export async function withBusyRetry<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const policy = options.policy ?? BUSY_BACKOFF;
  const wait = options.wait ?? sleep;
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (isAbortError(error) || !isBusy(error) || retry > policy.maxAttempts) throw error;
      const delayMs = retryDelayMs(retry, error.retryAfterS, options.random, policy);
      options.onBusy({ attempt: retry, maxAttempts: policy.maxAttempts, delayMs });
      await wait(delayMs, options.signal);
    }
  }
}
