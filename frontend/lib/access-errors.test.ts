import { describe, expect, it } from "vitest";

import { ApiError } from "@/lib/api";
import { describeError } from "@/lib/errors";

const query = { kind: "text", text: "a dog" } as const;

describe("describeError for access control", () => {
  it("says a key is needed, and where the UI takes it from", () => {
    const error = new ApiError("http", "refused", {
      status: 401,
      detail: "this API requires a key: send it in the X-API-Key header",
    });
    expect(describeError(error, query, "http://api.test")).toEqual({
      title: "The search service needs an API key",
      message:
        "This API requires a key: send it in the X-API-Key header. Set NEXT_PUBLIC_API_KEY on the UI's server to the API's IMAGESEARCH_API_KEY.",
      retryable: false,
    });
  });

  it("passes on the rate limit's wait, and offers to try again", () => {
    const detail = "too many requests from this client (limit: 120 per 1 minute); retry in 12 s";
    const message = describeError(new ApiError("http", detail, { status: 429, detail }), query, "http://api.test");
    expect(message.title).toBe("Too many searches at once");
    expect(message.message).toBe("Too many requests from this client (limit: 120 per 1 minute); retry in 12 s.");
    expect(message.retryable).toBe(true);
  });
});
