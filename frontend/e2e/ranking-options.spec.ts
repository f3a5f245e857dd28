import { expect, type Page, test } from "@playwright/test";

import { API_URL, IMAGE_COUNT } from "./env";
import { apiGet, escapeRegExp, expectSortedDescending, openApp, resultCards, shownIds, shownScores } from "./fixtures";

/** The query parameters of the next GET /search the page sends. */
async function nextTextSearch(page: Page, act: () => Promise<unknown>): Promise<URLSearchParams> {
  const sent = page.waitForRequest((request) => new URL(request.url()).pathname === "/search" && request.method() === "GET");
  await act();
  return new URL((await sent).url()).searchParams;
}

test("'Minimum match' is sent as min_score; when nothing passes it, 'No good matches' offers the weaker ones", async ({
  page,
  request,
}) => {
  await openApp(page, "/?q=a+dog");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  const minimum = page.getByLabel("Minimum match");
  await expect(minimum).toHaveValue("off"); // off by default

  const params = await nextTextSearch(page, () => minimum.selectOption("0.2"));
  expect(params.get("min_score")).toBe("0.2");
  await expect(page).toHaveURL(/\?q=a\+dog&min=0\.2$/);
  const expected = await apiGet(request, "/search?query=a+dog&top_k=24&min_score=0.2");
  if (expected.results.length === 0) {
    await expect(page.getByTestId("no-good-matches")).toBeVisible();
  } else {
    await expect(resultCards(page)).toHaveCount(expected.results.length);
    for (const score of await shownScores(page)) expect(score).toBeGreaterThanOrEqual(0.2 - 0.0005);
  }

  // A threshold above the best score: no results, said in words, with a way back.
  const all = await apiGet(request, "/search?query=a+dog&top_k=1");
  const above = Math.min(1, Math.ceil((all.results[0].score + 0.01) * 100) / 100);
  await page.goto(`/?q=a+dog&min=${above}`);
  const empty = page.getByTestId("no-good-matches");
  await expect(empty.getByRole("heading")).toHaveText("No good matches");
  await expect(page.getByTestId("no-good-matches-threshold")).toHaveText(above.toFixed(3));
  await expect(page.getByTestId("result-grid")).toHaveCount(0);
  await expect(page.getByLabel("Minimum match")).toHaveValue(String(above));

  await empty.getByRole("button", { name: "Show weaker matches" }).click();
  await expect(page).toHaveURL(/\?q=a\+dog$/);
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
});

test("'Load more' asks for the next page with offset and appends it, in the API's own order", async ({
  page,
  request,
}) => {
  await openApp(page, "/?q=snowy+forest&k=12");
  await expect(resultCards(page)).toHaveCount(12);
  const params = await nextTextSearch(page, () => page.getByRole("button", { name: "Load more" }).click());
  expect(params.get("offset")).toBe("12");
  expect(params.get("top_k")).toBe("12");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0); // has_more: false

  const first = await apiGet(request, "/search?query=snowy+forest&top_k=12");
  const second = await apiGet(request, "/search?query=snowy+forest&top_k=12&offset=12");
  expect(first.has_more).toBe(true);
  expect(second.has_more).toBe(false);
  expect(await shownIds(page)).toEqual([...first.results, ...second.results].map((result) => result.id));
  expectSortedDescending(await shownScores(page));
});

test("'Collapse near-duplicates' sends dedupe=true, keeps it in the URL, and badges the collapsed results", async ({
  page,
  request,
}) => {
  // e2e/start-backend.sh saved two drawings twice: with dedupe, each pair shows as one result.
  await openApp(page, "/?q=a+picture");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expect(page.getByTestId("duplicates-badge")).toHaveCount(0);

  const params = await nextTextSearch(page, () => page.getByLabel("Collapse near-duplicates").check());
  expect(params.get("dedupe")).toBe("true");
  await expect(page).toHaveURL(/\?q=a\+picture&dedupe=1$/);

  const expected = await apiGet(request, "/search?query=a+picture&top_k=24&dedupe=true");
  await expect(resultCards(page)).toHaveCount(expected.results.length);
  expect(await shownIds(page)).toEqual(expected.results.map((result) => result.id));
  const collapsed = expected.results.filter((result) => (result.duplicates ?? []).length > 0);
  expect(collapsed.length).toBeGreaterThan(0);
  expect(expected.results.length).toBeLessThanOrEqual(IMAGE_COUNT - 2);
  for (const result of collapsed) {
    const card = page.locator(`[data-testid="result-card"][data-result-id="${result.id}"]`);
    await expect(card.getByTestId("duplicates-badge")).toHaveText(`+${result.duplicates!.length} similar`);
  }
  await expect(page.getByTestId("duplicates-badge")).toHaveCount(collapsed.length);

  await page.reload(); // kept in the URL
  await expect(page.getByLabel("Collapse near-duplicates")).toBeChecked();
  await expect(resultCards(page)).toHaveCount(expected.results.length);
});

test("captions from the index show on the cards and in the larger view", async ({ page, request }) => {
  await openApp(page, "/?q=a+picture");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  const expected = await apiGet(request, "/search?query=a+picture&top_k=24");
  const captioned = expected.results.filter((result) => result.caption);
  expect(captioned.length).toBeGreaterThan(0);
  for (const result of expected.results) {
    const card = page.locator(`[data-testid="result-card"][data-result-id="${result.id}"]`);
    if (result.caption) {
      await expect(card.getByTestId("result-caption")).toHaveText(result.caption);
      await expect(card.getByRole("img")).toHaveAttribute("alt", new RegExp(` — ${escapeRegExp(result.caption)}$`));
    } else {
      await expect(card.getByTestId("result-caption")).toHaveCount(0);
    }
  }
  const rank = expected.results.findIndex((result) => result.caption);
  await resultCards(page).nth(rank).getByRole("button", { name: /^Open result/ }).click();
  await expect(page.getByRole("dialog").getByTestId("lightbox-caption")).toHaveText(expected.results[rank].caption!);
});

/** The hybrid control: "Caption match", or "Match captions and text in images" on an index with OCR text. */
const TEXT_MATCH = /Caption match|Match captions and text in images/;

test("the caption (and image text) match appears for text on an index with captions and is sent as hybrid", async ({
  page,
  request,
}) => {
  const health = (await (await request.get(`${API_URL}/health`)).json()) as { captions?: boolean };
  expect(health.captions).toBe(true);

  await openApp(page, "/?q=red+background");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  // e2e/start-backend.sh reads the text in the images (--ocr): the words match it too.
  const caption = page.getByLabel("Match captions and text in images");
  await expect(caption).toHaveValue("0");
  const params = await nextTextSearch(page, () => caption.selectOption("0.5"));
  expect(params.get("hybrid")).toBe("0.5");
  await expect(page).toHaveURL(/\?q=red\+background&hybrid=0\.5$/);
  const expected = await apiGet(request, "/search?query=red+background&top_k=24&hybrid=0.5");
  await expect(resultCards(page)).toHaveCount(expected.results.length);
  expect(await shownIds(page)).toEqual(expected.results.map((result) => result.id));

  // Not for an image query: the control is hidden there.
  await resultCards(page).first().getByRole("button", { name: "More like result 1" }).click();
  await expect(page.getByTestId("query-image")).toBeVisible();
  await expect(page.getByLabel(TEXT_MATCH)).toHaveCount(0);
});

test("without captions in the index, the caption-match control is hidden and hybrid never sent", async ({ page }) => {
  await page.route(`${API_URL}/health`, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, json: { ...(await response.json()), captions: false } });
  });
  const sent = nextTextSearch(page, () => openApp(page, "/?q=red+background&hybrid=0.5"));
  expect((await sent).get("hybrid")).toBeNull();
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expect(page.getByLabel(TEXT_MATCH)).toHaveCount(0);
});
