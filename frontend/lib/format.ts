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

/**
 * A metadata value for people: dates as the day (and the time when it is not midnight UTC),
 * lists joined by commas, booleans as yes/no, numbers as written (a year stays "2021").
 */
export function formatMetadataValue(value: unknown): string {
  if (value === null || value === undefined) return "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "–";
  if (Array.isArray(value)) return value.map((item) => String(item)).join(", ");
  const text = String(value);
  const iso = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|\+00:00)$/.exec(text);
  if (iso) return iso[2] === "00:00" ? iso[1] : `${iso[1]} ${iso[2]} UTC`;
  return text;
}

/** The card's compact metadata line: at most `max` fields (in the index's order) the result has. */
export function keyMetadata(
  metadata: Record<string, unknown> | undefined,
  fields: readonly string[],
  max = 4,
): [string, string][] {
  // The caption and the text read in the image have their own lines; file facts (size, dates)
  // say little about the picture.
  const skipped = new Set(["caption", "ocr_text", "file_size", "file_modified"]);
  return fields
    .filter((field) => !skipped.has(field) && metadata?.[field] !== undefined && metadata[field] !== null)
    .slice(0, max)
    .map((field) => [field, formatMetadataValue(metadata![field])]);
}

/**
 * Every metadata field of a result for the larger view: the index's order first, then the rest;
 * not `ocr_text`, which the larger view shows in full on its own.
 */
export function allMetadata(metadata: Record<string, unknown> | undefined, fields: readonly string[]): [string, string][] {
  const names = [...fields, ...Object.keys(metadata ?? {}).filter((name) => !fields.includes(name))];
  return names
    .filter((name) => name !== "ocr_text" && metadata?.[name] !== undefined && metadata[name] !== null)
    .map((name) => [name, formatMetadataValue(metadata![name])]);
}
