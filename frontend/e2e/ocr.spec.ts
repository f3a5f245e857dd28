/**
 * Text read in the images (OCR) against the real API: e2e/start-backend.sh builds the index with
 * --ocr, and two of its drawings carry a sign in DejaVu Sans Bold ("PHARMACY / OPEN 24 HOURS" on
 * img0002.jpg, "FRESH / BREAD" on img0009.png). The tiny model's weights are random, so nothing
 * here rests on what CLIP sees: only on the text channel (BM25 over the text read, fused with a
 * weight of 0.5, puts the one image whose text matches first) and on metadata counts.
 */

import { readFile } from "node:fs/promises";

import { expect, type Page, test } from "@playwright/test";

import { API_URL, IMAGE_COUNT } from "./env";
import { apiGet, type ApiPage, cardFileName, escapeRegExp, openApp, queryImagePath, resultCards, shownIds } from "./fixtures";

interface Health {
  ocr_engine?: string;
  captions?: boolean;
  metadata_fields?: Record<string, string>;
}

/** The text as the UI shows it on one line. */
const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

const panel = (page: Page) => page.getByRole("region", { name: "Filters" });

test("a word read in an image is matched with the captions, and marked on its card and in the larger view", async ({
  page,
  request,
}) => {
  const health = (await (await request.get(`${API_URL}/health`)).json()) as Health;
  expect(health.ocr_engine).toBeTruthy();
  expect(health.captions).toBe(true);
  expect(health.metadata_fields).toMatchObject({ has_text: "boolean", ocr_text: "string" });

  await openApp(page, "/?q=pharmacy");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  const control = page.getByLabel("Match captions and text in images");
  await expect(control).toHaveValue("0");
  const sent = page.waitForRequest((req) => new URL(req.url()).pathname === "/search" && req.method() === "GET");
  await control.selectOption("0.5");
  expect(new URL((await sent).url()).searchParams.get("hybrid")).toBe("0.5");
  await expect(page).toHaveURL(/\?q=pharmacy&hybrid=0\.5$/);

  const expected = await apiGet(request, "/search?query=pharmacy&top_k=24&hybrid=0.5");
  const sign = expected.results[0];
  expect(sign.source).toMatch(/\/img0002\.jpg$/);
  expect(sign.matched_words).toEqual(["PHARMACY"]);
  await expect.poll(() => shownIds(page)).toEqual(expected.results.map((result) => result.id));

  const first = resultCards(page).first();
  expect(await cardFileName(first)).toBe("img0002.jpg");
  const line = first.getByTestId("result-ocr-text");
  await expect(line).toHaveText(`Text in the image: “${oneLine(sign.ocr_text!)}”`); // "Text in the image:" for screen readers
  await expect(line.locator("mark")).toHaveText(["PHARMACY"]);
  // Only the cards of images with text read in them have the line.
  const withText = expected.results.filter((result) => result.ocr_text).length;
  await expect(page.getByTestId("result-ocr-text")).toHaveCount(withText);

  await first.getByRole("button", { name: /^Open result 1,/ }).click();
  const full = page.getByRole("dialog").getByTestId("lightbox-ocr-text");
  await expect(full).toContainText(sign.ocr_text!.split("\n")[0]);
  expect(oneLine((await full.locator("p").nth(1).textContent()) ?? "")).toBe(oneLine(sign.ocr_text!));
  await expect(full.locator("mark")).toHaveText(["PHARMACY"]);
});

test("the 'Has text' chip keeps the images with text read in them, as many as it counts", async ({ page, request }) => {
  await openApp(page, "/?q=a+picture");
  await expect(panel(page)).toBeVisible();
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);

  const group = panel(page).getByRole("group", { name: "Text in image", exact: true });
  const chip = group.getByRole("button", { name: /^Has text \(\d+\)$/ });
  const count = Number(await chip.getByTestId("facet-count").textContent());
  const facets = await request.get(`${API_URL}/search?query=a+picture&top_k=1&facets=has_text`);
  const buckets = ((await facets.json()) as { facets: { has_text: { buckets: { value: unknown; count: number }[] } } })
    .facets.has_text.buckets;
  expect(count).toBe(buckets.find((bucket) => bucket.value === true)!.count);
  expect(count).toBeGreaterThanOrEqual(2); // the two signs, at least
  // The text itself is no use as chips: none until asked for, like the captions.
  await expect(panel(page).getByRole("group", { name: "ocr_text", exact: true }).getByRole("button", { name: /\(1\)$/ })).toHaveCount(0);

  await chip.click();
  await expect(page).toHaveURL(/filter=has_text\+%3D\+true/);
  await expect(chip).toHaveAttribute("aria-pressed", "true");
  await expect(resultCards(page)).toHaveCount(count);
  await expect(page.getByTestId("result-ocr-text")).toHaveCount(count);
  const filtered = await apiGet(request, `/search?query=a+picture&top_k=24&filter=${encodeURIComponent("has_text = true")}`);
  expect(new Set(await shownIds(page))).toEqual(new Set(filtered.results.map((result) => result.id)));
  const names = filtered.results.map((result) => result.source.split("/").pop());
  expect(names).toEqual(expect.arrayContaining(["img0002.jpg", "img0009.png"]));
});

test("an uploaded sign's text is read and matched: 'Match the text in this image' finds the other sign with those words", async ({
  page,
  request,
}) => {
  const file = queryImagePath("fresh-bread.png");
  await openApp(page, "/");
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Search with an image" }).click();
  const plain = page.waitForRequest((req) => new URL(req.url()).pathname === "/search-by-image");
  await (await chooser).setFiles(file);
  expect(new URL((await plain).url()).searchParams.get("read_text")).toBeNull();
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expect(page.getByTestId("query-text")).toHaveCount(0);

  const toggle = page.getByRole("checkbox", { name: "Match the text in this image" });
  await expect(toggle).not.toBeChecked();
  const reading = page.waitForRequest((req) => new URL(req.url()).pathname === "/search-by-image");
  await toggle.check();
  expect(new URL((await reading).url()).searchParams.get("read_text")).toBe("0.5");
  await expect(page).toHaveURL(/\?read=1$/);

  // The API's own answer for the same upload.
  const response = await request.post(`${API_URL}/search-by-image?top_k=24&read_text=0.5`, {
    multipart: { file: { name: "fresh-bread.png", mimeType: "image/png", buffer: await readFile(file) } },
  });
  expect(response.status(), await response.text()).toBe(200);
  const expected = (await response.json()) as ApiPage;
  expect(oneLine(expected.query_text ?? "")).toMatch(/^FRESH BREAD$/i);
  expect(expected.results[0].source).toMatch(/\/img0009\.png$/);

  await expect(page.getByTestId("query-text")).toHaveText(
    new RegExp(`^Text read in your image: “${escapeRegExp(oneLine(expected.query_text!))}”$`),
  );
  await expect.poll(() => shownIds(page)).toEqual(expected.results.map((result) => result.id));
  const first = resultCards(page).first();
  expect(await cardFileName(first)).toBe("img0009.png");
  await expect(first.getByTestId("result-ocr-text").locator("mark")).toHaveText(expected.results[0].matched_words!);
  expect(expected.results[0].matched_words!.map((word) => word.toUpperCase())).toEqual(["FRESH", "BREAD"]);
});

test("without an OCR engine the upload toggle is hidden, and the text control is the caption match", async ({ page }) => {
  await page.route(`${API_URL}/health`, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, json: { ...(await response.json()), ocr_engine: "" } });
  });
  await openApp(page, "/?q=pharmacy&read=1");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expect(page.getByLabel("Caption match")).toBeVisible();
  await expect(page.getByLabel("Match captions and text in images")).toHaveCount(0);

  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Search with an image" }).click();
  const sent = page.waitForRequest((req) => new URL(req.url()).pathname === "/search-by-image");
  await (await chooser).setFiles(queryImagePath("fresh-bread.png"));
  expect(new URL((await sent).url()).searchParams.get("read_text")).toBeNull();
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expect(page.getByRole("checkbox", { name: "Match the text in this image" })).toHaveCount(0);
});
