import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { DEFAULT_PAGE_SIZE } from "@/lib/config";
import { DEFAULT_LIMITS } from "@/lib/limits";
import type { SearchOptions } from "@/lib/types";
import { pushUrl, readUrlState, type UrlQuery } from "@/lib/url-state";

const read = (search: string, maxTopK = DEFAULT_LIMITS.max_top_k) =>
  readUrlState(new URLSearchParams(search), { max_top_k: maxTopK });

const DEFAULTS: SearchOptions = {
  pageSize: DEFAULT_PAGE_SIZE,
  minScore: null,
  dedupe: false,
  hybrid: 0,
  filter: "",
  sort: "",
  cutoff: false,
  readText: false,
};

/** A stand-in for the browser's location and history: pushUrl's only contact with the page. */
function fakeWindow(search = "") {
  const location = { pathname: "/", search };
  const pushState = vi.fn((_state: unknown, _unused: string, target: string) => {
    location.search = target.slice(location.pathname.length);
  });
  vi.stubGlobal("window", { location, history: { pushState } });
  return { location, pushState };
}

describe("readUrlState", () => {
  it("reads an empty URL as no search, with the default options", () => {
    expect(read("")).toEqual({ text: "", similar: null, termParams: [], options: DEFAULTS });
  });

  it("reads every parameter", () => {
    const state = read(
      "q=+a+dog+&similar=17&term=2:t:dog&term=-1:i:5&k=48&min=0.25&dedupe=1&hybrid=0.5" +
        "&filter=year+%3E%3D+2020&sort=year:desc&cutoff=auto&read=1",
    );
    expect(state).toEqual({
      text: "a dog",
      similar: 17,
      termParams: ["2:t:dog", "-1:i:5"],
      options: {
        pageSize: 48,
        minScore: 0.25,
        dedupe: true,
        hybrid: 0.5,
        filter: "year >= 2020",
        sort: "year:desc",
        cutoff: true,
        readText: true,
      },
    });
  });

  it("accepts dedupe=true as well as dedupe=1", () => {
    expect(read("dedupe=true").options.dedupe).toBe(true);
    expect(read("dedupe=yes").options.dedupe).toBe(false);
  });

  it.each([
    ["similar=abc", { similar: null }],
    ["similar=-1", { similar: null }],
    ["similar=1.5", { similar: null }],
    ["similar=99999999999999999999", { similar: null }],
    ["similar=", { similar: null }],
    ["q=%20%20", { text: "" }],
    ["term=&term=%20", { termParams: [] }],
  ])("drops a malformed query: %s", (search, expected) => {
    expect(read(search)).toMatchObject(expected);
  });

  it.each([
    ["k=0"],
    ["k=-5"],
    ["k=12.5"],
    ["k=abc"],
    ["k="],
    ["k=201"],
  ])("falls back to the default page size for %s", (search) => {
    expect(read(search).options.pageSize).toBe(DEFAULT_PAGE_SIZE);
  });

  it.each([
    ["min=2", null],
    ["min=-1.5", null],
    ["min=abc", null],
    ["min=", null],
    ["min=Infinity", null],
    ["min=-1", -1],
    ["min=1", 1],
    ["min=0", 0],
  ])("reads the minimum match %s as %s", (search, expected) => {
    expect(read(search).options.minScore).toBe(expected);
  });

  it.each([
    ["hybrid=1.5", 0],
    ["hybrid=-0.1", 0],
    ["hybrid=abc", 0],
    ["hybrid=1", 1],
    ["hybrid=0.25", 0.25],
  ])("reads the caption weight %s as %s", (search, expected) => {
    expect(read(search).options.hybrid).toBe(expected);
  });

  it("reads the filter and sort as written (trimmed), and only cutoff=auto as the cutoff", () => {
    expect(read("filter=%20%20").options.filter).toBe("");
    expect(read("filter=+NOT+(tags+IN+[sea])+").options.filter).toBe("NOT (tags IN [sea])");
    expect(read("sort=+taken:asc+").options.sort).toBe("taken:asc");
    expect(read("cutoff=none").options.cutoff).toBe(false);
    expect(read("cutoff=1").options.cutoff).toBe(false);
  });

  it("holds the page size to the API's max_top_k", () => {
    expect(read("k=200").options.pageSize).toBe(200);
    expect(read("k=150", 100).options.pageSize).toBe(DEFAULT_PAGE_SIZE);
    expect(read("k=500", 1000).options.pageSize).toBe(500);
    // Under a max_top_k smaller than the default page size, the default shrinks to it.
    expect(read("", 10).options.pageSize).toBe(10);
    expect(read("k=11", 10).options.pageSize).toBe(10);
  });
});

describe("pushUrl", () => {
  beforeEach(() => {
    fakeWindow();
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  const roundTrip = (query: UrlQuery, options: SearchOptions) => {
    const { location } = fakeWindow();
    expect(pushUrl(query, options)).toBe(true);
    return read(location.search);
  };

  it("writes a search that reads back the same", () => {
    const options = {
      pageSize: 96,
      minScore: -0.5,
      dedupe: true,
      hybrid: 0.75,
      filter: 'photographer IN ["Chloé \\"CJ\\" Martin", "a&b=c?d#e+f"] AND `camera model` = x',
      sort: "taken:desc",
      cutoff: true,
      readText: true,
    };
    expect(roundTrip({ text: "a red car" }, options)).toEqual({
      text: "a red car",
      similar: null,
      termParams: [],
      options,
    });
    expect(roundTrip({ similar: 0 }, DEFAULTS)).toMatchObject({ similar: 0, options: DEFAULTS });
    const termParams = ["2:t:golden retriever", "-1:i:17", "1:t:a&b=c?d#e"];
    expect(roundTrip({ termParams }, DEFAULTS)).toMatchObject({ termParams });
  });

  it("leaves the defaults out of the URL", () => {
    const { location } = fakeWindow();
    pushUrl({ text: "dog" }, DEFAULTS);
    expect(location.search).toBe("?q=dog");
    pushUrl({}, DEFAULTS);
    expect(location.search).toBe("");
  });

  it("writes the filter, sort and cutoff beside the search", () => {
    const { location } = fakeWindow();
    pushUrl({ text: "dog" }, { ...DEFAULTS, filter: "year >= 2020", sort: "year:desc", cutoff: true });
    expect(location.search).toBe("?q=dog&filter=year+%3E%3D+2020&sort=year%3Adesc&cutoff=auto");
  });

  it("reads only read=1 as matching the text of an uploaded image, and writes it so", () => {
    expect(read("read=0").options.readText).toBe(false);
    expect(read("read=yes").options.readText).toBe(false);
    const { location } = fakeWindow();
    pushUrl({}, { ...DEFAULTS, readText: true });
    expect(location.search).toBe("?read=1");
  });

  it("keeps a minimum match of 0 (it is not 'off')", () => {
    expect(roundTrip({ text: "dog" }, { ...DEFAULTS, minScore: 0 }).options.minScore).toBe(0);
  });

  it("does not push an unchanged URL", () => {
    const { pushState } = fakeWindow("?q=dog&k=48");
    expect(pushUrl({ text: "dog" }, { ...DEFAULTS, pageSize: 48 })).toBe(false);
    expect(pushState).not.toHaveBeenCalled();
    expect(pushUrl({ text: "cat" }, { ...DEFAULTS, pageSize: 48 })).toBe(true);
    expect(pushState).toHaveBeenCalledWith(null, "", "/?q=cat&k=48");
  });
});
