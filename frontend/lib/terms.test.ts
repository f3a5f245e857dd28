import { describe, expect, it } from "vitest";

import { DEFAULT_LIMITS } from "@/lib/limits";
import {
  canRun,
  describeTerms,
  isShareable,
  makeTerm,
  paramsToTerms,
  paramToTerm,
  termsToParams,
  termToParam,
} from "@/lib/terms";
import type { QueryImage, QueryTerm } from "@/lib/types";

const imageUrl = (id: number) => `http://api.test/images/${id}`;
const LIMITS = { max_query_terms: 8, max_term_weight: 10 };

/** A term without its (random) React key, for comparisons. */
function shape(term: QueryTerm | null) {
  if (!term) return null;
  const { key, ...rest } = term;
  expect(key).toMatch(/^term-\d+$/);
  return rest;
}

function upload(): QueryImage {
  return { source: "file", file: new File([new Uint8Array([1])], "cat.jpg"), previewUrl: "blob:x", label: "cat.jpg" };
}

describe("termToParam / paramToTerm", () => {
  it("writes words and indexed images with a signed weight", () => {
    expect(termToParam(makeTerm({ kind: "text", text: "golden retriever" }, 1, 2))).toBe("2:t:golden retriever");
    const image = makeTerm({ kind: "image_id", id: 17, previewUrl: imageUrl(17), label: "Image #17" }, -1, 1);
    expect(termToParam(image)).toBe("-1:i:17");
  });

  it("has no URL form for an upload", () => {
    const term = makeTerm({ kind: "upload", image: upload() });
    expect(isShareable(term)).toBe(false);
    expect(termToParam(term)).toBeNull();
  });

  it("reads back what it writes", () => {
    const terms = [
      makeTerm({ kind: "text", text: "dog" }, 1, 3),
      makeTerm({ kind: "image_id", id: 0, previewUrl: imageUrl(0), label: "Image #0" }, -1, 10),
      makeTerm({ kind: "text", text: "a: colon, a newline\nand ünïcode ✓" }, -1, 2),
    ];
    const params = termsToParams(terms);
    expect(params).toEqual(["3:t:dog", "-10:i:0", "-2:t:a: colon, a newline\nand ünïcode ✓"]);
    const back = paramsToTerms(params, imageUrl, LIMITS);
    expect(back.map(shape)).toEqual(terms.map(shape));
    expect(termsToParams(back)).toEqual(params);
  });

  it("reads the preview URL and label of an image from the API", () => {
    expect(shape(paramToTerm("1:i:42", imageUrl, 10))).toEqual({
      source: { kind: "image_id", id: 42, previewUrl: "http://api.test/images/42", label: "Image #42" },
      sign: 1,
      weight: 1,
    });
  });

  it("trims the words of a text term", () => {
    expect(shape(paramToTerm("1:t:  dog  ", imageUrl, 10))?.source).toEqual({ kind: "text", text: "dog" });
  });

  it.each([
    ["", "empty"],
    ["dog", "no weight or kind"],
    ["1:dog", "no kind"],
    ["1:x:dog", "unknown kind"],
    ["0:t:dog", "weight 0"],
    ["1.5:t:dog", "fractional weight"],
    ["+1:t:dog", "explicit plus"],
    ["a:t:dog", "weight not a number"],
    ["1:t:", "no words"],
    ["1:t:   ", "blank words"],
    ["1:i:", "no id"],
    ["1:i:-3", "negative id"],
    ["1:i:2.5", "fractional id"],
    ["1:i:abc", "id not a number"],
    ["11:t:dog", "weight over the limit"],
    ["-11:i:3", "negative weight over the limit"],
  ])("drops %j (%s)", (param) => {
    expect(paramToTerm(param, imageUrl, 10)).toBeNull();
  });

  it("holds weights to the API's max_term_weight", () => {
    expect(paramToTerm("10:t:dog", imageUrl, 10)?.weight).toBe(10);
    expect(paramToTerm("-10:t:dog", imageUrl, 10)?.sign).toBe(-1);
    expect(paramToTerm("4:t:dog", imageUrl, 3)).toBeNull();
    expect(paramToTerm("20:t:dog", imageUrl, 20)?.weight).toBe(20);
  });
});

describe("paramsToTerms", () => {
  it("drops the malformed parameters and keeps the order of the rest", () => {
    const terms = paramsToTerms(["2:t:dog", "nonsense", "0:t:cat", "-1:i:5", "99:t:big"], imageUrl, LIMITS);
    expect(termsToParams(terms)).toEqual(["2:t:dog", "-1:i:5"]);
  });

  it("keeps at most the API's max_query_terms terms, the first ones", () => {
    const params = Array.from({ length: 12 }, (_, n) => `1:t:word ${n}`);
    expect(paramsToTerms(params, imageUrl, LIMITS)).toHaveLength(8);
    expect(termsToParams(paramsToTerms(params, imageUrl, { ...LIMITS, max_query_terms: 3 }))).toEqual([
      "1:t:word 0",
      "1:t:word 1",
      "1:t:word 2",
    ]);
  });

  it("gives every term its own key", () => {
    const terms = paramsToTerms(["1:t:a", "1:t:a", "1:i:1"], imageUrl, DEFAULT_LIMITS);
    expect(new Set(terms.map((term) => term.key)).size).toBe(3);
  });
});

describe("canRun", () => {
  const plus = makeTerm({ kind: "text", text: "dog" }, 1);
  const minus = makeTerm({ kind: "text", text: "grass" }, -1);

  it("needs at least one term, and one of them positive", () => {
    expect(canRun([], 8)).toBe(false);
    expect(canRun([minus], 8)).toBe(false);
    expect(canRun([plus, minus], 8)).toBe(true);
  });

  it("refuses more terms than the API's max_query_terms", () => {
    expect(canRun([plus, minus, minus], 3)).toBe(true);
    expect(canRun([plus, minus, minus], 2)).toBe(false);
  });
});

describe("describeTerms", () => {
  it("says the query in words", () => {
    const terms = [
      makeTerm({ kind: "text", text: "dog" }, 1, 2),
      makeTerm({ kind: "image_id", id: 17, previewUrl: imageUrl(17), label: "Image #17" }, 1, 1),
      makeTerm({ kind: "text", text: "grass" }, -1, 1),
    ];
    expect(describeTerms(terms)).toBe("2×“dog” + Image #17 − “grass”");
  });
});
