/** Helpers shared by the specs: the indexed image files, reading results, building DataTransfers. */

import { readFile } from "node:fs/promises";
import path from "node:path";

import { type APIRequestContext, expect, type Locator, type Page } from "@playwright/test";

import { API_URL } from "./env";

const FRONTEND = path.resolve(__dirname, "..");

/** The image files e2e/start-backend.sh drew and indexed. */
export const imagePath = (relative: string) => path.join(FRONTEND, ".e2e", "images", relative);
/** Images e2e/start-backend.sh drew to upload, outside the index ("fresh-bread.png": a sign). */
export const queryImagePath = (name: string) => path.join(FRONTEND, ".e2e", "queries", name);

/** Where screenshots are kept as artifacts of the run. */
export const screenshotPath = (name: string) => path.join(FRONTEND, "test-results", "screenshots", `${name}.png`);

export const searchBox = (page: Page) => page.getByRole("searchbox", { name: /describe the images/i });
export const resultCards = (page: Page) => page.getByTestId("result-card");

/**
 * Open a page of the app and wait until it is interactive: the header's encoder status leaves
 * its server-rendered "Connecting…" only once React has hydrated and /health has answered.
 */
export async function openApp(page: Page, url: string) {
  await page.goto(url);
  await expect(page.getByTestId("encoder-status")).not.toHaveText("Connecting…");
}

/** Type a query and press Enter. */
export async function searchFor(page: Page, text: string) {
  await searchBox(page).fill(text);
  await searchBox(page).press("Enter");
}

/** The scores shown on the cards, as numbers, after checking each is formatted like "0.123". */
export async function shownScores(page: Page): Promise<number[]> {
  const texts = await page.getByTestId("result-score").allTextContents();
  for (const text of texts) expect(text).toMatch(/^-?\d\.\d{3}$/);
  return texts.map(Number);
}

export function expectSortedDescending(values: number[]) {
  expect(values).toEqual([...values].sort((a, b) => b - a));
}

/** The file name a card's image shows (its alt text is "Result N: name" or "Result N: name — caption"). */
export async function cardFileName(card: Locator): Promise<string> {
  const alt = (await card.getByRole("img").getAttribute("alt")) ?? "";
  return alt.replace(/^Result \d+: /, "").split(" — ")[0];
}

/** The ids of the result cards shown, in order. */
export async function shownIds(page: Page): Promise<number[]> {
  return resultCards(page).evaluateAll((cards) => cards.map((card) => Number((card as HTMLElement).dataset.resultId)));
}

export interface ApiResult {
  id: number;
  score: number;
  source: string;
  caption?: string | null;
  duplicates?: number[];
  ocr_text?: string | null;
  matched_words?: string[];
}
export interface ApiPage {
  query: string;
  query_text?: string | null;
  has_more?: boolean;
  results: ApiResult[];
}

/** The API's own answer, fetched by the test (not through the page), to compare the UI with. */
export async function apiGet(request: APIRequestContext, pathAndQuery: string): Promise<ApiPage> {
  const response = await request.get(`${API_URL}${pathAndQuery}`);
  expect(response.status(), await response.text()).toBe(200);
  return response.json();
}

export async function apiPost(request: APIRequestContext, path: string, body: unknown): Promise<ApiPage> {
  const response = await request.post(`${API_URL}${path}`, { data: body });
  expect(response.status(), await response.text()).toBe(200);
  return response.json();
}

/** The first card shows the given file, with a score of (about) 1: an image found itself. */
export async function expectFirstResultIs(page: Page, fileName: string) {
  const first = resultCards(page).first();
  await expect(first.getByRole("img")).toHaveAttribute("alt", new RegExp(`^Result 1: ${escapeRegExp(fileName)}( — .*)?$`));
  const score = Number(await first.getByTestId("result-score").textContent());
  expect(score).toBeGreaterThan(0.99);
}

/** A DataTransfer in the page holding the bytes of a real file, as a drop or paste would. */
export async function dataTransferWithFile(page: Page, filePath: string, mimeType: string) {
  const base64 = (await readFile(filePath)).toString("base64");
  return page.evaluateHandle(
    ({ base64, name, mimeType }) => {
      const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], name, { type: mimeType }));
      return transfer;
    },
    { base64, name: path.basename(filePath), mimeType },
  );
}

/** Number of columns a CSS grid lays out. */
export async function gridColumns(grid: Locator): Promise<number> {
  return grid.evaluate((element) => getComputedStyle(element).gridTemplateColumns.split(" ").filter(Boolean).length);
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
