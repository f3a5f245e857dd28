import { describe, expect, it } from "vitest";

import { ApiError, parseRetryAfter } from "@/lib/api";
import { describeError } from "@/lib/errors";
import { BUSY_BACKOFF, type BusyRetry, isBusy, retryDelayMs, sleep, withBusyRetry } from "@/lib/retry";

const busy = (retryAfterS = 1) => new ApiError("http", "busy", { status: 503, detail: "busy", retryAfterS });
const never = () => 0; // no jitter
const most = () => 0.999999; // the most jitter

describe("parseRetryAfter", () => {
  it("reads delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter("1")).toBe(1);
    expect(parseRetryAfter(" 120 ")).toBe(120);
    const now = Date.parse("Wed, 02 Dec 2026 06:00:00 GMT");
    expect(parseRetryAfter("Wed, 02 Dec 2026 06:00:05 GMT", now)).toBe(5);
    expect(parseRetryAfter("Wed, 02 Dec 2026 05:59:00 GMT", now)).toBe(0); // already past
  });

  it("ignores what is absent or unreadable", () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("")).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("-1")).toBeUndefined();
    expect(parseRetryAfter("1.5")).toBeUndefined();
  });
});

describe("isBusy", () => {
  it("is a 503 that says when to retry, and nothing else", () => {
    expect(isBusy(busy())).toBe(true);
    expect(isBusy(new ApiError("http", "timed out", { status: 503 }))).toBe(false); // the request timeout
    expect(isBusy(new ApiError("http", "bad", { status: 422, retryAfterS: 1 }))).toBe(false);
    expect(isBusy(new ApiError("network", "down"))).toBe(false);
    expect(isBusy(new Error("503"))).toBe(false);
  });
});

describe("retryDelayMs", () => {
  it("doubles from 1 s up to the 16 s cap, without jitter", () => {
    const schedule = [1, 2, 3, 4, 5, 6, 7].map((attempt) => retryDelayMs(attempt, 1, never));
    expect(schedule).toEqual([1000, 2000, 4000, 8000, 16_000, 16_000, 16_000]);
  });

  it("never retries before Retry-After, even past the cap", () => {
    expect(retryDelayMs(1, 3, never)).toBe(3000);
    expect(retryDelayMs(3, 3, never)).toBe(4000); // the exponential wait is longer by now
    expect(retryDelayMs(6, 30, never)).toBe(30_000);
  });

  it("adds up to 50 % jitter on top, never below the wait", () => {
    expect(retryDelayMs(1, 1, most)).toBe(1500);
    expect(retryDelayMs(2, 1, () => 0.5)).toBe(2500);
    for (let n = 0; n < 100; n++) {
      const delay = retryDelayMs(2, 1);
      expect(delay).toBeGreaterThanOrEqual(2000);
      expect(delay).toBeLessThanOrEqual(3000);
    }
  });
});

describe("withBusyRetry", () => {
  /** Records the waits instead of sleeping. */
  function recorder() {
    const waits: number[] = [];
    const shown: BusyRetry[] = [];
    const options = {
      signal: new AbortController().signal,
      onBusy: (retry: BusyRetry) => shown.push(retry),
      random: never,
      wait: async (ms: number) => void waits.push(ms),
    };
    return { waits, shown, options };
  }

  it("retries busy refusals on the schedule until the search is answered", async () => {
    const answers: (Error | string)[] = [busy(1), busy(1), busy(3), "results"];
    const { waits, shown, options } = recorder();
    const result = await withBusyRetry(async () => {
      const next = answers.shift()!;
      if (next instanceof Error) throw next;
      return next;
    }, options);
    expect(result).toBe("results");
    expect(waits).toEqual([1000, 2000, 4000]);
    expect(shown).toEqual([
      { attempt: 1, maxAttempts: BUSY_BACKOFF.maxAttempts, delayMs: 1000 },
      { attempt: 2, maxAttempts: BUSY_BACKOFF.maxAttempts, delayMs: 2000 },
      { attempt: 3, maxAttempts: BUSY_BACKOFF.maxAttempts, delayMs: 4000 },
    ]);
  });

  it("gives up after the last attempt with the refusal as the error", async () => {
    const { waits, options } = recorder();
    let calls = 0;
    const last = busy(1);
    const search = async () => {
      calls++;
      throw calls > BUSY_BACKOFF.maxAttempts ? last : busy(1);
    };
    await expect(withBusyRetry(search, options)).rejects.toBe(last);
    expect(calls).toBe(BUSY_BACKOFF.maxAttempts + 1);
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000]);
  });

  it("does not retry other errors", async () => {
    const { waits, options } = recorder();
    const timeout = new ApiError("http", "took too long", { status: 503 });
    await expect(withBusyRetry(() => Promise.reject(timeout), options)).rejects.toBe(timeout);
    expect(waits).toEqual([]);
  });

  it("stops waiting when a newer search aborts it", async () => {
    const controller = new AbortController();
    let calls = 0;
    const pending = withBusyRetry(
      async () => {
        calls++;
        throw busy(60);
      },
      { signal: controller.signal, onBusy: () => controller.abort(), random: never },
    );
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    expect(calls).toBe(1); // the retry never ran
  });
});

describe("sleep", () => {
  it("rejects at once on a signal that has already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(sleep(60_000, controller.signal)).rejects.toMatchObject({ name: "AbortError" });
  });

  it("resolves after the wait", async () => {
    await expect(sleep(1, new AbortController().signal)).resolves.toBeUndefined();
  });
});

describe("describeError", () => {
  it("words a refusal the retries could not get past as the service being busy, and retryable", () => {
    const message = describeError(busy(2), { kind: "text", text: "a dog" }, "http://api");
    expect(message.title).toBe("The search service is busy");
    expect(message.retryable).toBe(true);
    const timeout = describeError(new ApiError("http", "slow", { status: 503 }), null, "http://api");
    expect(timeout.title).toBe("The search service ran into a problem");
  });
});
