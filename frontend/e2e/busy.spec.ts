import { readFile } from "node:fs/promises";
import path from "node:path";

import { type APIRequestContext, type APIResponse, expect, type Page, test } from "@playwright/test";

import { BUSY_API_URL, BUSY_WEB_URL, IMAGE_COUNT } from "./env";
import { openApp, resultCards, searchBox, searchFor } from "./fixtures";

// The API of e2e/start-busy-backend.sh sheds load at once (a 1 µs queue budget): while a search is
// admitted, every other one gets 503 + Retry-After. The busy condition is real, not a stubbed
// response: each test uploads slow.png (10000x10000, seconds to decode) and searches while the
// server is decoding it. One at a time: both use the same server.
test.describe.configure({ mode: "serial" });

const SLOW_PNG = path.resolve(__dirname, "..", ".e2e", "busy", "slow.png");

/**
 * Starts the slow search and resolves once the busy API counts it as admitted (its /metrics gauge),
 * with the upload's answer still to come (wrapped: an async function would wait for it).
 */
async function makeBusy(request: APIRequestContext): Promise<{ upload: Promise<APIResponse> }> {
  const upload = request.post(`${BUSY_API_URL}/search-by-image`, {
    multipart: { file: { name: "slow.png", mimeType: "image/png", buffer: await readFile(SLOW_PNG) } },
    timeout: 80_000,
  });
  const admitted = async () => {
    const text = await (await request.get(`${BUSY_API_URL}/metrics`)).text();
    const line = text.split("\n").find((row) => row.startsWith("imagesearch_search_queue_searches "));
    return Number(line?.split(" ")[1] ?? 0);
  };
  await expect.poll(admitted, { timeout: 30_000, intervals: [20] }).toBeGreaterThan(0);
  return { upload };
}

/** The `query` of every GET /search the page sends to the busy API, in order. */
function searchesSent(page: Page): string[] {
  const sent: string[] = [];
  page.on("request", (request) => {
    if (request.url().startsWith(`${BUSY_API_URL}/search?`)) sent.push(new URL(request.url()).searchParams.get("query") ?? "");
  });
  return sent;
}

test("a busy API: the page says it is retrying, then shows the results", async ({ page, request }) => {
  test.setTimeout(90_000);
  await openApp(page, `${BUSY_WEB_URL}/`);
  await searchBox(page).fill("a dog"); // typed first: only Enter remains while the server is busy
  const { upload } = await makeBusy(request);

  const refused = page.waitForResponse((response) => response.url().startsWith(`${BUSY_API_URL}/search?`));
  await searchBox(page).press("Enter");
  const answer = await refused;
  expect(answer.status()).toBe(503);
  expect(Number(await answer.headerValue("retry-after"))).toBeGreaterThanOrEqual(1);
  const busy = page.getByTestId("busy-state");
  await expect(busy).toContainText("The search service is busy");
  await expect(busy).toContainText(/Retrying in \d+ s \(attempt \d of 5\)/);
  await expect(page.getByTestId("error-state")).toHaveCount(0);

  expect((await upload).status()).toBe(200); // the slow search itself was served
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT, { timeout: 40_000 });
  await expect(busy).toHaveCount(0);
});

test("a new search cancels the retry the one before was waiting for", async ({ page, request }) => {
  test.setTimeout(90_000);
  await openApp(page, `${BUSY_WEB_URL}/`);
  const sent = searchesSent(page);
  await searchBox(page).fill("first words");
  const { upload } = await makeBusy(request);

  await searchBox(page).press("Enter");
  await expect(page.getByTestId("busy-state")).toBeVisible(); // refused: its retry is waiting
  await searchFor(page, "second words");

  expect((await upload).status()).toBe(200);
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT, { timeout: 40_000 });
  await expect(page).toHaveURL(/[?&]q=second\+words/);
  // "first words" was never sent again once "second words" was searched for.
  expect(sent.lastIndexOf("first words")).toBeLessThan(sent.indexOf("second words"));
  expect(sent.filter((query) => query === "second words").length).toBeGreaterThanOrEqual(1);
});
