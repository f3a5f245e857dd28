"use client";

/**
 * The query builder's chips before they run. The draft follows the search shown: a combined
 * search shows its own terms; another kind of search empties it, and the first chip added to
 * its results starts from that search ("dog" + this image), so a refinement keeps its context.
 */

import { useCallback, useState } from "react";

import { makeTerm } from "@/lib/terms";
import type { QueryTerm, SearchQuery, TermSource } from "@/lib/types";

/** The current search as a chip, for starting a draft from it. */
function seedTerm(query: SearchQuery | null): QueryTerm | null {
  if (!query) return null;
  if (query.kind === "text") return makeTerm({ kind: "text", text: query.text });
  if (query.kind === "similar") {
    return makeTerm({ kind: "image_id", id: query.id, previewUrl: query.previewUrl, label: query.label });
  }
  if (query.kind === "image") return makeTerm({ kind: "upload", image: query.image });
  return null;
}

function sameSource(a: TermSource, b: TermSource): boolean {
  if (a.kind === "image_id" && b.kind === "image_id") return a.id === b.id;
  if (a.kind === "text" && b.kind === "text") return a.text.toLowerCase() === b.text.toLowerCase();
  return a.kind === "upload" && b.kind === "upload" && a.image === b.image;
}

/** `maxTerms`: the API's `max_query_terms`; a chip past it is not added. */
export function useQueryDraft(active: SearchQuery | null, maxTerms: number) {
  const [terms, setTerms] = useState<QueryTerm[]>(active?.kind === "combined" ? active.terms : []);
  const [open, setOpen] = useState(active?.kind === "combined");
  const [shown, setShown] = useState(active);
  if (active !== shown) {
    // Another search is shown (a run, Back/Forward): the draft follows it.
    setShown(active);
    setTerms(active?.kind === "combined" ? active.terms : []);
    setOpen(active?.kind === "combined");
  }

  /** Add a chip (or flip the sign of the same one already there), opening the builder. */
  const add = useCallback(
    (source: TermSource, sign: 1 | -1 = 1) => {
      setOpen(true);
      setTerms((previous) => {
        const existing = previous.find((term) => sameSource(term.source, source));
        if (existing) return previous.map((term) => (term === existing ? { ...term, sign } : term));
        const seed = previous.length === 0 && active?.kind !== "combined" ? seedTerm(active) : null;
        const base = seed && !sameSource(seed.source, source) ? [seed] : [];
        return [...(previous.length ? previous : base), makeTerm(source, sign)].slice(0, maxTerms);
      });
    },
    [active, maxTerms],
  );

  const update = useCallback((key: string, change: Partial<Pick<QueryTerm, "sign" | "weight">>) => {
    setTerms((previous) => previous.map((term) => (term.key === key ? { ...term, ...change } : term)));
  }, []);

  const remove = useCallback((key: string) => {
    setTerms((previous) => previous.filter((term) => term.key !== key));
  }, []);

  const reset = useCallback(() => {
    setTerms([]);
    setOpen(false);
  }, []);

  return { terms, open, setOpen, add, update, remove, reset };
}
