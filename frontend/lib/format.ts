/** Display formatting shared by the result views. */

/** A similarity score as the API returns it, to three decimals ("0.287", "1.000"). */
export function formatScore(score: number): string {
  return Number.isFinite(score) ? score.toFixed(3) : "–";
}

/** The last path segment of a source URL or path, for captions and alt text. */
export function fileNameOf(source: string): string {
  const withoutQuery = source.split(/[?#]/)[0] ?? source;
  const segments = withoutQuery.split(/[\\/]/).filter(Boolean);
  const last = segments[segments.length - 1] ?? source;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** "1 image", "20 images". */
export function plural(count: number, noun: string): string {
  return `${count.toLocaleString("en-US")} ${noun}${count === 1 ? "" : "s"}`;
}
