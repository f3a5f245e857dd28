/**
 * The filter panel, sort and adaptive cutoff against the real API. e2e/start-backend.sh gives
 * the images metadata columns (photographer, year, taken, tags, featured). The tiny model's
 * weights are random, so nothing here asserts on relevance: only on metadata and counts, which
 * are exact.
 */

import { expect, type Locator, type Page, test } from "@playwright/test";

import { API_URL, IMAGE_COUNT } from "./env";
import { escapeRegExp, openApp, resultCards, shownIds } from "./fixtures";

interface Bucket {
  value?: unknown;
  from?: unknown;
  to?: unknown;
  count: number;
}
interface FilteredPage {
  total?: number | null;
  cutoff?: string | null;
  results: { id: number; metadata?: Record<string, unknown> }[];
  facets?: Record<string, { buckets: Bucket[]; min?: unknown; max?: unknown }> | null;
}

const QUERY = "a picture";

/** GET /search for QUERY with these parameters, straight from the API. */
async function apiSearch(page: Page, params: Record<string, string>) {
  const url = new URL(`${API_URL}/search`);
  url.search = new URLSearchParams({ query: QUERY, top_k: "24", ...params }).toString();
  const response = await page.request.get(url.toString());
  return { status: response.status(), body: (await response.json()) as FilteredPage & { detail?: string } };
}

const panel = (page: Page) => page.getByRole("region", { name: "Filters" });
const facetGroup = (page: Page, field: string) => panel(page).getByRole("group", { name: field, exact: true });
const chip = (page: Page, field: string, value: string) =>
  facetGroup(page, field).getByRole("button", { name: new RegExp(`^${escapeRegExp(value)}( \\(\\d+\\))?$`) });

/** The count a chip shows. */
async function chipCount(button: Locator): Promise<number> {
  return Number(await button.getByTestId("facet-count").textContent());
}

/** What the cards show of one field, in order ("" where a card has no value). */
async function shownField(page: Page, field: string): Promise<string[]> {
  return resultCards(page).evaluateAll(
    (cards, name) => cards.map((card) => card.querySelector(`[data-field="${name}"]`)?.textContent ?? ""),
    field,
  );
}

async function openResults(page: Page, search = "") {
  await openApp(page, `/?q=a+picture${search}`);
  await expect(panel(page)).toBeVisible();
}

test("a facet chip filters the results to its value, with as many results as it counted", async ({ page }) => {
  await openResults(page);
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  const all = await apiSearch(page, { facets: "photographer" });
  const buckets = all.body.facets!.photographer.buckets.filter((bucket) => bucket.value !== null);
  expect(buckets.map((bucket) => bucket.value).sort()).toEqual(["Ana Lima", "Ben O'Hara", 'Chloé "CJ" Martin']);

  // A name with a double quote: the expression escapes it, and the API matches it exactly.
  const chloe = chip(page, "photographer", 'Chloé "CJ" Martin');
  const expected = await chipCount(chloe);
  expect(expected).toBe(buckets.find((bucket) => bucket.value === 'Chloé "CJ" Martin')!.count);
  await chloe.click();
  await expect(page).toHaveURL(/filter=photographer\+%3D\+%22Chlo%C3%A9\+%5C%22CJ%5C%22\+Martin%22/);
  await expect(chloe).toHaveAttribute("aria-pressed", "true");
  await expect(resultCards(page)).toHaveCount(expected);
  await expect(page.getByTestId("results-heading")).toContainText(`${expected} results`);
  expect(new Set(await shownField(page, "photographer"))).toEqual(new Set(['Chloé "CJ" Martin']));

  // The other names stay on offer with their own counts, and a second one widens the filter (IN).
  const ben = chip(page, "photographer", "Ben O'Hara");
  const benCount = await chipCount(ben);
  await ben.click();
  await expect(page.getByLabel("Filter expression")).toHaveValue(`photographer IN ["Chloé \\"CJ\\" Martin", "Ben O'Hara"]`);
  await expect(resultCards(page)).toHaveCount(expected + benCount);
  expect(new Set(await shownField(page, "photographer"))).toEqual(new Set(['Chloé "CJ" Martin', "Ben O'Hara"]));

  // A list field's chip keeps the images whose list holds it; the ids are the API's own.
  const sea = chip(page, "tags", "sea");
  const seaCount = await chipCount(sea);
  await sea.click();
  await expect(resultCards(page)).toHaveCount(seaCount);
  const filter = `photographer IN ["Chloé \\"CJ\\" Martin", "Ben O'Hara"] AND tags = "sea"`;
  await expect(page.getByLabel("Filter expression")).toHaveValue(filter);
  const api = await apiSearch(page, { filter });
  expect(await shownIds(page)).toEqual(api.body.results.map((result) => result.id));
  for (const result of api.body.results) expect(result.metadata?.tags).toContain("sea");

  // Clicking a chosen chip again takes it back.
  await chip(page, "tags", "sea").click();
  await expect(resultCards(page)).toHaveCount(expected + benCount);
});

test("a year range keeps the years within it; the facet's range shows as placeholders", async ({ page }) => {
  await openResults(page);
  const all = await apiSearch(page, { facets: "year" });
  const from = page.getByLabel("year from");
  const to = page.getByLabel("year to");
  await expect(from).toHaveAttribute("placeholder", String(all.body.facets!.year.min));
  await expect(to).toHaveAttribute("placeholder", String(all.body.facets!.year.max));

  await from.fill("2018");
  await to.fill("2020");
  await to.press("Enter");
  await expect(page).toHaveURL(/filter=year\+2018\+TO\+2020/);
  const expected = await apiSearch(page, { filter: "year 2018 TO 2020" });
  expect(expected.body.results.length).toBeGreaterThan(0);
  await expect(resultCards(page)).toHaveCount(expected.body.results.length);
  for (const year of await shownField(page, "year")) {
    expect(Number(year)).toBeGreaterThanOrEqual(2018);
    expect(Number(year)).toBeLessThanOrEqual(2020);
  }
  expect(await shownIds(page)).toEqual(expected.body.results.map((result) => result.id));
});

test("an expression the API refuses shows its message beside the box; a typed NOT joins the chips", async ({ page }) => {
  await openResults(page);
  const box = page.getByLabel("Filter expression");
  await box.fill("year >=");
  await box.press("Enter");
  const refused = await apiSearch(page, { filter: "year >=" });
  expect(refused.status).toBe(422);
  await expect(panel(page).getByRole("alert")).toHaveText(refused.body.detail!);
  await expect(box).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("filter-refused")).toBeVisible();
  await expect(resultCards(page)).toHaveCount(0);

  // A power user's NOT (...) is kept as typed while chips are added beside it.
  await box.fill("NOT (tags = city)");
  await box.press("Enter");
  await expect(panel(page).getByRole("alert")).toHaveCount(0);
  await chip(page, "featured", "yes").click();
  await expect(box).toHaveValue("featured = true AND NOT (tags = city)");
  const expected = await apiSearch(page, { filter: "featured = true AND NOT (tags = city)" });
  await expect(resultCards(page)).toHaveCount(expected.body.results.length);
  expect(await shownIds(page)).toEqual(expected.body.results.map((result) => result.id));
  for (const result of expected.body.results) {
    expect(result.metadata?.featured).toBe(true);
    expect(result.metadata?.tags ?? []).not.toContain("city");
  }
});

test("sorting by year, newest first, orders the cards by year (no year last)", async ({ page }) => {
  await openResults(page);
  await page.getByLabel("Sort by").selectOption("year:desc");
  await expect(page).toHaveURL(/sort=year%3Adesc/);
  const expected = await apiSearch(page, { sort: "year:desc" });
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  expect(await shownIds(page)).toEqual(expected.body.results.map((result) => result.id));
  const years = await shownField(page, "year");
  const known = years.filter(Boolean).map(Number);
  expect(known).toEqual([...known].sort((a, b) => b - a));
  expect(years.indexOf("")).toBe(known.length); // the image without a year comes last
});

test("the adaptive cutoff is sent as cutoff=auto and shows how many results are relevant", async ({ page }) => {
  await openResults(page);
  const sent = page.waitForRequest((request) => new URL(request.url()).searchParams.get("cutoff") === "auto");
  await page.getByLabel("Adaptive cutoff").check();
  await sent;
  await expect(page).toHaveURL(/cutoff=auto/);
  const expected = await apiSearch(page, { cutoff: "auto" });
  expect(expected.body.cutoff).toBe("auto");
  const total = expected.body.total!;
  await expect(page.getByTestId("relevant-total")).toHaveText(`(${total} relevant result${total === 1 ? "" : "s"})`);
  await expect(resultCards(page)).toHaveCount(expected.body.results.length);
  expect(await shownIds(page)).toEqual(expected.body.results.map((result) => result.id));
});

test("a filtered, sorted, cut-off search survives a reload", async ({ page }) => {
  const filter = 'photographer = "Ana Lima" AND year >= 2016';
  await openResults(page, `&filter=${encodeURIComponent(filter)}&sort=taken:asc&cutoff=auto`);
  const expected = await apiSearch(page, { filter, sort: "taken:asc", cutoff: "auto" });
  expect(expected.body.results.length).toBeGreaterThan(0);
  await expect(resultCards(page)).toHaveCount(expected.body.results.length);
  const before = await shownIds(page);
  expect(before).toEqual(expected.body.results.map((result) => result.id));

  await page.reload();
  await expect(resultCards(page)).toHaveCount(expected.body.results.length);
  expect(await shownIds(page)).toEqual(before);
  await expect(chip(page, "photographer", "Ana Lima")).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByLabel("year from")).toHaveValue("2016");
  await expect(page.getByLabel("Filter expression")).toHaveValue(filter);
  await expect(page.getByLabel("Sort by")).toHaveValue("taken:asc");
  await expect(page.getByLabel("Adaptive cutoff")).toBeChecked();
});

test("the larger view lists every metadata field of the result", async ({ page }) => {
  await openResults(page);
  const expected = await apiSearch(page, {});
  await resultCards(page).first().getByRole("button", { name: /^Open result 1/ }).click();
  const list = page.getByRole("dialog").getByTestId("lightbox-metadata");
  const metadata = expected.body.results[0].metadata!;
  for (const field of ["photographer", "year", "tags", "featured"]) {
    if (field in metadata) await expect(list.locator(`[data-field="${field}"]`)).toBeVisible();
  }
  await expect(list.locator('[data-field="photographer"]')).toHaveText(String(metadata.photographer));
});
