import { describe, expect, it } from "vitest";

import {
  composeFilter,
  EMPTY_PANEL,
  fieldLabel,
  FREE_TEXT_FIELDS,
  isChosen,
  MAX_PANEL_FIELDS,
  type MetadataFields,
  type PanelState,
  panelFields,
  parseFilter,
  quoteField,
  quoteString,
  readFields,
  setRange,
  sortChoices,
  toggleValue,
  valueLabel,
  withoutField,
} from "@/lib/filters";

const FIELDS: MetadataFields = {
  photographer: "string",
  year: "number",
  taken: "datetime",
  tags: "list",
  featured: "boolean",
  "camera model": "string",
};

const panel = (change: Partial<PanelState>): PanelState => ({ ...EMPTY_PANEL, ...change });

describe("quoting", () => {
  it.each([
    ["Jane Doe", '"Jane Doe"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["a\\b", '"a\\\\b"'],
    ["O'Brien", '"O\'Brien"'],
    ["", '""'],
  ])("quotes the string %j as %s", (value, quoted) => {
    expect(quoteString(value)).toBe(quoted);
  });

  it.each([
    ["year", "year"],
    ["exif.iso", "exif.iso"],
    ["geo-hash", "geo-hash"],
    ["Straße", "Straße"],
    ["camera model", "`camera model`"],
    ["2nd", "`2nd`"],
    ["null", "`null`"],
    ["And", "`And`"],
    ["a=b", "`a=b`"],
  ])("writes the field %j as %s", (name, written) => {
    expect(quoteField(name)).toBe(written);
  });
});

describe("composeFilter", () => {
  it("is empty for the empty panel", () => {
    expect(composeFilter(EMPTY_PANEL, FIELDS)).toBe("");
  });

  it("writes one value as =, several as IN, booleans bare", () => {
    expect(composeFilter(panel({ values: { photographer: ["Jane Doe"] } }), FIELDS)).toBe('photographer = "Jane Doe"');
    expect(composeFilter(panel({ values: { tags: ["sea", "beach"] } }), FIELDS)).toBe('tags IN ["sea", "beach"]');
    expect(composeFilter(panel({ values: { featured: ["true"] } }), FIELDS)).toBe("featured = true");
    expect(composeFilter(panel({ values: { featured: ["true", "false"] } }), FIELDS)).toBe("featured IN [true, false]");
  });

  it("writes ranges as TO, >= or <=, skipping bounds that are not numbers or days", () => {
    const ranges = (from: string, to: string) => composeFilter(panel({ ranges: { year: { from, to } } }), FIELDS);
    expect(ranges("2018", "2020")).toBe("year 2018 TO 2020");
    expect(ranges("2018", "")).toBe("year >= 2018");
    expect(ranges("", "-1.5")).toBe("year <= -1.5");
    expect(ranges("abc", "2020")).toBe("year <= 2020");
    expect(ranges(" ", "")).toBe("");
    const taken = panel({ ranges: { taken: { from: "2019-05-01", to: "2019-12-31" } } });
    expect(composeFilter(taken, FIELDS)).toBe("taken 2019-05-01 TO 2019-12-31");
    expect(composeFilter(panel({ ranges: { taken: { from: "yesterday", to: "" } } }), FIELDS)).toBe("");
  });

  it("joins the fields in the index's order, then the typed parts, wrapping an OR", () => {
    const state = panel({
      values: { featured: ["false"], "camera model": ['EOS "5D"'] },
      ranges: { year: { from: "2020", to: "" } },
      extra: ["NOT (tags = sea)", "a = 1 OR b = 2"],
    });
    expect(composeFilter(state, FIELDS)).toBe(
      'year >= 2020 AND featured = false AND `camera model` = "EOS \\"5D\\"" AND NOT (tags = sea) AND (a = 1 OR b = 2)',
    );
    expect(composeFilter(panel({ extra: ["a = 1 OR b = 2"] }), FIELDS)).toBe("a = 1 OR b = 2");
  });

  it("leaves out values of fields the index does not have", () => {
    expect(composeFilter(panel({ values: { gone: ["x"] } }), FIELDS)).toBe("");
  });
});

describe("parseFilter", () => {
  it("reads an empty filter as the empty panel", () => {
    expect(parseFilter("  ", FIELDS)).toEqual(EMPTY_PANEL);
  });

  it("reads what composeFilter writes", () => {
    const state = panel({
      values: { photographer: ['Chloé "CJ" Martin', "Ben O'Hara"], tags: ["sea"], featured: ["true"], "camera model": ["a\\b"] },
      ranges: { year: { from: "2018", to: "2020" }, taken: { from: "", to: "2021-06-30" } },
    });
    expect(parseFilter(composeFilter(state, FIELDS), FIELDS)).toEqual(state);
  });

  it("reads bare words, single quotes, keywords in any case and a trailing comma", () => {
    expect(parseFilter("tags in [sea, 'beach',] and featured = TRUE", FIELDS)).toEqual(
      panel({ values: { tags: ["sea", "beach"], featured: ["true"] } }),
    );
  });

  it("joins two bounds of one field into a range", () => {
    expect(parseFilter("year >= 2018 AND year <= 2020", FIELDS)).toEqual(
      panel({ ranges: { year: { from: "2018", to: "2020" } } }),
    );
  });

  it("keeps what the panel cannot show, as written", () => {
    expect(parseFilter('NOT (tags = sea) AND photographer = "Ana"', FIELDS)).toEqual(
      panel({ values: { photographer: ["Ana"] }, extra: ["NOT (tags = sea)"] }),
    );
    expect(parseFilter("year > 2018 AND year != 2019 AND gps EXISTS", FIELDS).extra).toEqual([
      "year > 2018",
      "year != 2019",
      "gps EXISTS",
    ]);
    // A field given twice means both (AND): the second is not folded into the first.
    expect(parseFilter("tags = sea AND tags = city", FIELDS)).toEqual(
      panel({ values: { tags: ["sea"] }, extra: ["tags = city"] }),
    );
    expect(parseFilter("year >= 2018 AND year >= 2019", FIELDS).extra).toEqual(["year >= 2019"]);
    // Dates the inputs cannot show (a year, a time), unknown fields and wrong types.
    expect(parseFilter("taken >= 2019 AND taken <= 2020-05-01T10:00", FIELDS).extra).toHaveLength(2);
    expect(parseFilter("colour = red AND year >= abc AND photographer >= a", FIELDS).extra).toHaveLength(3);
  });

  it("keeps a whole expression with a top-level OR, or one it cannot read, as one part", () => {
    expect(parseFilter("year >= 2020 OR tags = sea", FIELDS)).toEqual(panel({ extra: ["year >= 2020 OR tags = sea"] }));
    expect(parseFilter('title = "abc', FIELDS)).toEqual(panel({ extra: ['title = "abc'] }));
    expect(parseFilter("year >= 2020 AND", FIELDS)).toEqual(panel({ extra: ["year >= 2020 AND"] }));
    // An OR inside parentheses is one part among others.
    expect(parseFilter("(tags = a OR tags = b) AND featured = false", FIELDS)).toEqual(
      panel({ values: { featured: ["false"] }, extra: ["(tags = a OR tags = b)"] }),
    );
  });

  it("keeps a typed part through a click", () => {
    const state = toggleValue(parseFilter("NOT (year 2019 TO 2020)", FIELDS), "tags", "sea");
    expect(composeFilter(state, FIELDS)).toBe('tags = "sea" AND NOT (year 2019 TO 2020)');
  });
});

describe("changing the panel", () => {
  it("toggles values, ignoring case as the API does", () => {
    let state = toggleValue(EMPTY_PANEL, "tags", "sea");
    state = toggleValue(state, "tags", "beach");
    expect(state.values.tags).toEqual(["sea", "beach"]);
    expect(isChosen(state, "tags", "SEA")).toBe(true);
    state = toggleValue(state, "tags", "Sea");
    expect(state.values.tags).toEqual(["beach"]);
    state = toggleValue(state, "tags", "beach");
    expect(state).toEqual(EMPTY_PANEL);
  });

  it("sets and clears ranges, and drops one field for its own facet", () => {
    let state = setRange(EMPTY_PANEL, "year", { from: "2018", to: "" });
    state = toggleValue(state, "photographer", "Ana");
    expect(state.ranges.year).toEqual({ from: "2018", to: "" });
    expect(withoutField(state, "photographer")).toEqual(panel({ ranges: { year: { from: "2018", to: "" } } }));
    expect(setRange(state, "year", { from: "", to: "" }).ranges).toEqual({});
  });
});

describe("fields and sorting", () => {
  it("keeps the known types of metadata_fields, and the first ones for the panel", () => {
    expect(readFields({ a: "string", b: "vector", c: "number" })).toEqual({ a: "string", c: "number" });
    expect(readFields(undefined)).toEqual({});
    expect(panelFields(FIELDS, 2)).toEqual(["photographer", "year"]);
  });

  it("shows has_text first, however late the index lists it", () => {
    const fields: MetadataFields = {
      caption: "string",
      photographer: "string",
      year: "number",
      taken: "datetime",
      tags: "list",
      featured: "boolean",
      width: "number",
      height: "number",
      file_size: "number",
      has_text: "boolean",
      ocr_text: "string",
    };
    const shown = panelFields(fields);
    expect(shown).toHaveLength(MAX_PANEL_FIELDS);
    expect(shown[0]).toBe("has_text");
    expect(shown.slice(1)).toEqual(["caption", "photographer", "year", "taken", "tags", "featured", "width"]);
    expect(panelFields(FIELDS)).toEqual(Object.keys(FIELDS)); // without OCR: the index's order
  });

  it("names has_text and its values for people, and leaves other fields as they are", () => {
    expect(fieldLabel("has_text")).toBe("Text in image");
    expect(valueLabel("has_text", "true", "yes")).toBe("Has text");
    expect(valueLabel("has_text", "False", "no")).toBe("No text");
    expect(fieldLabel("featured")).toBe("featured");
    expect(valueLabel("featured", "true", "yes")).toBe("yes");
    expect(FREE_TEXT_FIELDS.has("ocr_text") && FREE_TEXT_FIELDS.has("caption")).toBe(true);
  });

  it("offers no sort by the recognised text", () => {
    expect(sortChoices({ ocr_text: "string", has_text: "boolean" }).map((choice) => choice.value)).toEqual([""]);
  });

  it("offers relevance and both directions of every number, date and string field", () => {
    const values = sortChoices({ ...FIELDS, "a:b": "number" }).map((choice) => choice.value);
    expect(values).toEqual([
      "",
      "photographer:asc",
      "photographer:desc",
      "year:asc",
      "year:desc",
      "taken:asc",
      "taken:desc",
      "camera model:asc",
      "camera model:desc",
    ]);
  });
});
