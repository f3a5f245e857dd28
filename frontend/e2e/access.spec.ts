/**
 * An API that requires a key (IMAGESEARCH_API_KEY) and the UI given it (NEXT_PUBLIC_API_KEY):
 * the browser sends the key with every API call, and loads images through signed URLs, since
 * an <img> cannot send a header (playwright.config.ts starts both servers).
 */

import { expect, type Locator, test } from "@playwright/test";

import { API_KEY, KEY_API_URL, KEY_WEB_URL } from "./env";
import { openApp, resultCards, searchFor } from "./fixtures";

test.use({ baseURL: KEY_WEB_URL });

/** The image has loaded and decoded (a refused URL leaves its naturalWidth at 0). */
async function expectLoaded(image: Locator) {
  await expect.poll(() => image.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
}

test("the API refuses a client without the key, with a message", async ({ request }) => {
  const response = await request.get(`${KEY_API_URL}/search?query=a+picture`);
  expect(response.status()).toBe(401);
  expect(await response.json()).toEqual({ detail: "this API requires a key: send it in the X-API-Key header" });
});

test("the UI sends the key, and its result images load from signed URLs without it", async ({ page }) => {
  const imageRequests: { url: string; key: string | undefined }[] = [];
  page.on("request", (req) => {
    if (new URL(req.url()).pathname.startsWith("/images/")) {
      imageRequests.push({ url: req.url(), key: req.headers()["x-api-key"] });
    }
  });
  const searched = page.waitForRequest((req) => new URL(req.url()).pathname === "/search");
  await openApp(page, "/");
  await searchFor(page, "a picture");
  expect((await searched).headers()["x-api-key"]).toBe(API_KEY);
  const first = resultCards(page).first();
  await expect(first).toBeVisible();
  await expectLoaded(resultCards(page).locator("img").first());
  expect(imageRequests.length).toBeGreaterThan(0);
  for (const { url, key } of imageRequests) {
    expect(new URL(url).searchParams.get("sig")).toMatch(/^[0-9a-f]{32}$/);
    expect(key).toBeUndefined();
  }
});

test("a shared ?similar= link shows its query image: the browser signs the id itself", async ({ page }) => {
  await openApp(page, "/?similar=3");
  const image = page.getByTestId("query-image").getByRole("img");
  await expectLoaded(image);
  expect(new URL((await image.getAttribute("src")) ?? "").searchParams.get("sig")).toMatch(/^[0-9a-f]{32}$/);
  await expect(resultCards(page).first()).toBeVisible();
});

test("an image URL without its signature, or with another image's, is refused", async ({ request }) => {
  const page = await request.get(`${KEY_API_URL}/similar/3?top_k=2`, { headers: { "X-API-Key": API_KEY } });
  expect(page.status()).toBe(200);
  const { results } = (await page.json()) as { results: { id: number; image_url: string }[] };
  const signed = new URL(results[0].image_url);
  expect((await request.get(signed.toString())).status()).toBe(200);
  const unsigned = `${KEY_API_URL}${signed.pathname}`;
  expect((await request.get(unsigned)).status()).toBe(401);
  const borrowed = `${KEY_API_URL}/images/${results[1].id}${signed.search}`;
  expect((await request.get(borrowed)).status()).toBe(401);
});
