/**
 * The text read in an image (OCR), split for highlighting: the API's `matched_words` are the words
 * of `ocr_text` the query matched, as written there; the views mark each whole-word occurrence
 * of exactly those words (ignoring case), nothing else.
 */

export interface TextSegment {
  text: string;
  /** Whether this segment is one of the matched words. */
  match: boolean;
}

/** A letter, mark, digit or underscore: what a word is made of (as the API's `\w` reads it). */
const WORD_CHAR = "[\\p{L}\\p{M}\\p{N}_]";

/** The syntax characters escaped (only those may be escaped in a `u` pattern). */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** One pattern for all the words, the longest first, each only where no word character touches it. */
function wordsPattern(words: readonly string[]): RegExp | null {
  const seen = new Set<string>();
  const unique: string[] = [];
  for (const word of words) {
    const key = word.trim().toLowerCase();
    if (key && !seen.has(key)) {
      seen.add(key);
      unique.push(word.trim());
    }
  }
  if (unique.length === 0) return null;
  unique.sort((a, b) => b.length - a.length);
  return new RegExp(`(?<!${WORD_CHAR})(?:${unique.map(escapeRegExp).join("|")})(?!${WORD_CHAR})`, "giu");
}

/**
 * `text` cut into segments, the matched ones being whole-word, case-insensitive occurrences of
 * `words`. Joining the segments' texts gives `text` back; adjacent segments never share a kind.
 */
export function highlightWords(text: string, words: readonly string[]): TextSegment[] {
  const pattern = wordsPattern(words);
  if (!text) return [];
  if (!pattern) return [{ text, match: false }];
  const segments: TextSegment[] = [];
  let at = 0;
  for (const found of text.matchAll(pattern)) {
    const start = found.index ?? 0;
    if (start > at) segments.push({ text: text.slice(at, start), match: false });
    segments.push({ text: found[0], match: true });
    at = start + found[0].length;
  }
  if (at < text.length) segments.push({ text: text.slice(at), match: false });
  return segments;
}

/** The text on one line: its lines and runs of spaces joined by single spaces. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * A card's excerpt of the text: on one line, at most about `max` characters, starting a little
 * before the first matched word when that word would otherwise be cut off ("…" marks a cut).
 */
export function excerpt(text: string, words: readonly string[], max = 80): string {
  const line = oneLine(text);
  if (line.length <= max) return line;
  const pattern = wordsPattern(words);
  const first = pattern ? Math.max(0, line.search(pattern)) : 0;
  const lead = Math.floor(max / 4);
  // Start at a word, about `lead` characters before the match.
  const start = first + lead < max ? 0 : line.lastIndexOf(" ", first - lead) + 1;
  const cut = line.slice(start, start + max).trim();
  return `${start > 0 ? "…" : ""}${cut}${start + max < line.length ? "…" : ""}`;
}
