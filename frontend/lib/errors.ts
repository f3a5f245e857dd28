/** Turns a failed search into words for people: a title, a sentence, and what they can do next. */

import { ApiError } from "@/lib/api";
import type { SearchQuery } from "@/lib/types";

export interface UserMessage {
  title: string;
  message: string;
  /** Whether running the same request again could help (not for an unreadable upload, say). */
  retryable: boolean;
}

export function describeError(error: unknown, query: SearchQuery | null, apiBaseUrl: string): UserMessage {
  if (!(error instanceof ApiError)) {
    return {
      title: "Something went wrong",
      message: "The search failed unexpectedly. Please try again.",
      retryable: true,
    };
  }
  const isImage = query?.kind === "image";
  switch (error.kind) {
    case "network":
      return {
        title: "Can't reach the search service",
        message: `The image search API at ${apiBaseUrl} isn't answering. Check that it is running, then try again.`,
        retryable: true,
      };
    case "invalid-response":
      return {
        title: "Unexpected answer from the search service",
        message: `The server at ${apiBaseUrl} didn't answer like the image search API. Check the configured address.`,
        retryable: true,
      };
    case "http":
      return describeHttpError(error, isImage);
  }
}

function describeHttpError(error: ApiError, isImage: boolean): UserMessage {
  const status = error.status ?? 0;
  const detail = error.detail ? sentence(error.detail) : "";
  if (status === 413) {
    return { title: "That image is too large", message: `${detail} Try a smaller image.`.trim(), retryable: false };
  }
  if (status === 401) {
    // The API requires a key (IMAGESEARCH_API_KEY) that this UI was not given, or not that one.
    return {
      title: "The search service needs an API key",
      message: `${detail} Set NEXT_PUBLIC_API_KEY on the UI's server to the API's IMAGESEARCH_API_KEY.`.trim(),
      retryable: false,
    };
  }
  if (status === 429) {
    return { title: "Too many searches at once", message: detail || "Wait a moment, then try again.", retryable: true };
  }
  if (status === 422 && isImage) {
    return {
      title: "We couldn't read that image",
      message: `${detail} Try a JPEG, PNG, WebP or GIF image.`.trim(),
      retryable: false,
    };
  }
  if (status === 503 && error.retryAfterS !== undefined) {
    return {
      title: "The search service is busy",
      message: "It is answering as many searches as it can right now and asked to be tried again later. Try again in a few seconds.",
      retryable: true,
    };
  }
  if (status >= 400 && status < 500) {
    return {
      title: "That search couldn't run",
      message: detail || `The API refused it (HTTP ${status}).`,
      retryable: false,
    };
  }
  return {
    title: "The search service ran into a problem",
    message: `It answered with an error (HTTP ${status}). Try again in a moment.`,
    retryable: true,
  };
}

/** "the data is not an image" -> "The data is not an image." */
function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/**
 * The API's words when it refused the search's filter expression, else null: the API marks that
 * 422 with an `errors` item of type "filter_invalid" (its position in the expression is there too).
 */
export function filterErrorOf(error: unknown, filter: string): string | null {
  if (!(error instanceof ApiError) || !error.filterInvalid || !filter.trim() || !error.detail) return null;
  return error.detail;
}
