import { describe, expect, it } from "vitest";

import { excerpt, highlightWords, oneLine, type TextSegment } from "@/lib/highlight";

/** The segments as a string, matches in [brackets]. */
const shown = (segments: TextSegment[]) => segments.map((s) => (s.match ? `[${s.text}]` : s.text)).join("");

describe("highlightWords", () => {
  it("marks whole words, ignoring case, as written in the text", () => {
    expect(shown(highlightWords("PHARMACY\nOpen 24 hours", ["pharmacy", "HOURS"]))).toBe("[PHARMACY]\nOpen 24 [hours]");
  });

  it("marks every occurrence, and only whole words", () => {
    expect(shown(highlightWords("bread, Bread; breadbox and shortbread BREAD", ["bread"]))).toBe(
      "[bread], [Bread]; breadbox and shortbread [BREAD]",
    );
  });

  it("keeps punctuation around a word out of the mark", () => {
    expect(shown(highlightWords("«Open!» (open) open's open-air", ["open"]))).toBe("«[Open]!» ([open]) [open]'s [open]-air");
  });

  it("prefers the longer of two words that start at the same place, and never marks twice", () => {
    expect(shown(highlightWords("open opened opener", ["open", "opened"]))).toBe("[open] [opened] opener");
    expect(shown(highlightWords("new york new", ["new", "New", "new york"]))).toBe("[new york] [new]");
    const segments = highlightWords("24 hours 24", ["24", "24"]);
    expect(segments.filter((s) => s.match).map((s) => s.text)).toEqual(["24", "24"]);
  });

  it("treats regular expression characters in a word as themselves", () => {
    expect(shown(highlightWords("C++ and C# and a.b and axb (x)", ["c++", "c#", "a.b", "(x)"]))).toBe(
      "[C++] and [C#] and [a.b] and axb [(x)]",
    );
    expect(shown(highlightWords("cost $5 or 5", ["$5", "[", "\\", "^"]))).toBe("cost [$5] or 5");
  });

  it("reads letters beyond ASCII as word characters", () => {
    expect(shown(highlightWords("Café cafés CAFÉ", ["café"]))).toBe("[Café] cafés [CAFÉ]");
    expect(shown(highlightWords("Straße straßen", ["straße"]))).toBe("[Straße] straßen");
  });

  it("gives the text back whole: one plain segment without words, none for no text", () => {
    expect(highlightWords("FRESH BREAD", [])).toEqual([{ text: "FRESH BREAD", match: false }]);
    expect(highlightWords("FRESH BREAD", ["", "  "])).toEqual([{ text: "FRESH BREAD", match: false }]);
    expect(highlightWords("", ["bread"])).toEqual([]);
    const text = "a bread, BREAD. bread";
    expect(highlightWords(text, ["bread"]).map((s) => s.text).join("")).toBe(text);
  });
});

describe("oneLine", () => {
  it("joins lines and runs of spaces", () => {
    expect(oneLine("  FRESH\nBREAD \n\n daily  ")).toBe("FRESH BREAD daily");
  });
});

describe("excerpt", () => {
  const long = `${"word ".repeat(30)}PHARMACY ${"tail ".repeat(30)}`.trim();

  it("keeps a short text whole, on one line", () => {
    expect(excerpt("FRESH\nBREAD", ["bread"], 80)).toBe("FRESH BREAD");
  });

  it("cuts a long text at its end when the match is near the start", () => {
    const text = `PHARMACY ${"open ".repeat(30)}`;
    const cut = excerpt(text, ["pharmacy"], 40);
    expect(cut.startsWith("PHARMACY open")).toBe(true);
    expect(cut.endsWith("…")).toBe(true);
    expect(cut.length).toBeLessThanOrEqual(41);
  });

  it("starts a little before a match that would be cut off, at a word", () => {
    const cut = excerpt(long, ["pharmacy"], 40);
    expect(cut).toMatch(/^…word( word)* PHARMACY tail/);
    expect(cut.endsWith("…")).toBe(true);
  });

  it("without a match, cuts at the end", () => {
    expect(excerpt(long, [], 20)).toBe("word word word word…");
  });
});
