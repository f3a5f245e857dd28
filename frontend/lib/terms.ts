/**
 * Terms of a combined query: their form in the URL (`term=2:t:golden retriever`, `term=-1:i:17`),
 * in the API request, and in words. Uploaded images have no URL form: they stay in memory.
 */

import type { ApiLimits, QueryTerm, TermSource } from "@/lib/types";

/** The API's limits a term list is held to: terms per query, and one term's weight. */
export type TermLimits = Pick<ApiLimits, "max_query_terms" | "max_term_weight">;

/** What the weight stepper offers (a larger weight from a URL is kept and shown too). */
export const TERM_WEIGHTS = [1, 2, 3] as const;

let counter = 0;
/** A key for a new chip, unique in this page. */
export function newTermKey(): string {
  counter += 1;
  return `term-${counter}`;
}

export function makeTerm(source: TermSource, sign: 1 | -1 = 1, weight = 1): QueryTerm {
  return { key: newTermKey(), source, sign, weight };
}

/** Whether a term can be written in the URL (words and indexed images can; uploads cannot). */
export function isShareable(term: QueryTerm): boolean {
  return term.source.kind !== "upload";
}

/** `2:t:golden retriever`, `-1:i:17`; null for an upload. */
export function termToParam(term: QueryTerm): string | null {
  const weight = term.sign * term.weight;
  if (term.source.kind === "text") return `${weight}:t:${term.source.text}`;
  if (term.source.kind === "image_id") return `${weight}:i:${term.source.id}`;
  return null;
}

/** The URL form of the shareable terms, in order: also a key telling two term lists apart. */
export function termsToParams(terms: QueryTerm[]): string[] {
  return terms.map(termToParam).filter((param): param is string => param !== null);
}

/**
 * A `term` URL parameter back to a chip; null when malformed or its weight is 0 or over the API's
 * `max_term_weight` (ignored, like a bad `k`).
 */
export function paramToTerm(
  param: string,
  imageUrl: (id: number) => string,
  maxWeight: number,
): QueryTerm | null {
  const match = /^(-?\d+):([ti]):([\s\S]+)$/.exec(param);
  if (!match) return null;
  const signed = Number(match[1]);
  if (!Number.isInteger(signed) || signed === 0 || Math.abs(signed) > maxWeight) return null;
  const sign = signed > 0 ? 1 : -1;
  const value = match[3].trim();
  if (match[2] === "t") return value ? makeTerm({ kind: "text", text: value }, sign, Math.abs(signed)) : null;
  const id = Number(value);
  if (!Number.isInteger(id) || id < 0) return null;
  return makeTerm({ kind: "image_id", id, previewUrl: imageUrl(id), label: `Image #${id}` }, sign, Math.abs(signed));
}

/** The terms a list of `term` parameters describes (malformed ones dropped, at most `max_query_terms`). */
export function paramsToTerms(params: string[], imageUrl: (id: number) => string, limits: TermLimits): QueryTerm[] {
  return params
    .map((param) => paramToTerm(param, imageUrl, limits.max_term_weight))
    .filter((term): term is QueryTerm => term !== null)
    .slice(0, limits.max_query_terms);
}

/** What a chip says: `"grass"`, `image #17`, `img0006.jpg`. */
export function termLabel(term: QueryTerm): string {
  const source = term.source;
  if (source.kind === "text") return `“${source.text}”`;
  if (source.kind === "image_id") return source.label;
  return source.image.label;
}

/** `2× “dog” + Image #17 − “grass”`, for the results heading. */
export function describeTerms(terms: QueryTerm[]): string {
  return terms
    .map((term, index) => {
      const weight = term.weight === 1 ? "" : `${term.weight}×`;
      const sign = term.sign > 0 ? (index === 0 ? "" : "+ ") : "− ";
      return `${sign}${weight}${termLabel(term)}`;
    })
    .join(" ");
}

/** Whether a combined query can run: 1..`maxTerms` (the API's limit) terms, at least one "more like". */
export function canRun(terms: QueryTerm[], maxTerms: number): boolean {
  return terms.length > 0 && terms.length <= maxTerms && terms.some((term) => term.sign > 0);
}

/** Whether any term is words (hybrid applies to text only). */
export function hasText(terms: QueryTerm[]): boolean {
  return terms.some((term) => term.source.kind === "text");
}
