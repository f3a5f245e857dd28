import { describe, expect, it } from "vitest";

import { allMetadata, formatMetadataValue, keyMetadata } from "@/lib/format";

describe("formatMetadataValue", () => {
  it.each([
    [2021, "2021"],
    [-1.5, "-1.5"],
    [true, "yes"],
    [false, "no"],
    [["sea", "beach"], "sea, beach"],
    ["2019-03-04T00:00:00Z", "2019-03-04"],
    ["2019-03-04T10:30:00Z", "2019-03-04 10:30 UTC"],
    ["Jane Doe", "Jane Doe"],
    [null, "–"],
  ])("shows %j as %j", (value, shown) => {
    expect(formatMetadataValue(value)).toBe(shown);
  });
});

describe("keyMetadata and allMetadata", () => {
  const metadata = { caption: "a dog", photographer: "Ana", year: 2020, width: 640, tags: ["a"], file_size: 10, extra: 1 };
  const fields = ["caption", "photographer", "year", "taken", "tags", "width", "file_size"];

  it("keeps the first fields the result has, without the caption and file facts", () => {
    expect(keyMetadata(metadata, fields, 3)).toEqual([
      ["photographer", "Ana"],
      ["year", "2020"],
      ["tags", "a"],
    ]);
    expect(keyMetadata(undefined, fields)).toEqual([]);
  });

  it("lists every field, the index's order first", () => {
    expect(allMetadata(metadata, fields).map(([field]) => field)).toEqual([
      "caption",
      "photographer",
      "year",
      "tags",
      "width",
      "file_size",
      "extra",
    ]);
  });

  it("leaves the text read in the image to its own line, and keeps has_text", () => {
    const read = { ocr_text: "FRESH\nBREAD", has_text: true, photographer: "Ana" };
    const names = ["photographer", "has_text", "ocr_text"];
    expect(keyMetadata(read, ["ocr_text", ...names])).toEqual([
      ["photographer", "Ana"],
      ["has_text", "yes"],
    ]);
    expect(allMetadata(read, names)).toEqual([
      ["photographer", "Ana"],
      ["has_text", "yes"],
    ]);
  });
});
