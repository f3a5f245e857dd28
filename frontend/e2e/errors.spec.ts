import { expect, test } from "@playwright/test";

import { API_URL, DEAD_API_URL, DOWN_WEB_URL, IMAGE_COUNT } from "./env";
import { openApp, resultCards } from "./fixtures";

test("when the API is down the page says so and offers a retry", async ({ page }) => {
  // The same production build, started with NEXT_PUBLIC_API_BASE_URL at a port nobody listens on.
  await openApp(page, `${DOWN_WEB_URL}/?q=a+dog`);

  const error = page.getByTestId("error-state");
  await expect(error.getByRole("heading")).toHaveText("Can't reach the search service");
  await expect(error).toContainText(DEAD_API_URL);
  await expect(page.getByTestId("encoder-status")).toHaveText("API offline");

  const retried = page.waitForRequest((request) => request.url().startsWith(`${DEAD_API_URL}/search?`));
  await error.getByRole("button", { name: "Try again" }).click();
  await retried;
  await expect(page.getByTestId("error-state")).toBeVisible();
});

test("'Try again' recovers once the API answers again", async ({ page }) => {
  // Refuse connections to the API until the test lets them through.
  await page.route(`${API_URL}/**`, (route) => route.abort("connectionrefused"));
  await openApp(page, "/?q=a+dog");
  await expect(page.getByTestId("error-state")).toContainText("Can't reach the search service");

  await page.unroute(`${API_URL}/**`);
  await page.getByRole("button", { name: "Try again" }).click();
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expect(page.getByTestId("encoder-status")).toContainText("test-tiny-clip");
});

test("images that fail to load show a placeholder instead of a broken image", async ({ page }) => {
  await page.route(`${API_URL}/images/*`, async (route, request) =>
    request.url().endsWith("/images/0") ? route.fulfill({ status: 404 }) : route.continue(),
  );
  await openApp(page, "/?k=48&q=anything");
  const broken = page.locator('[data-testid="result-card"][data-result-id="0"]');
  await expect(broken).toContainText("Image unavailable");
  await expect(broken.getByRole("img")).toHaveCount(0);
  await expect(broken.getByTestId("result-score")).toBeVisible();
});

test("a fallback encoder reported by /health shows a clear banner", async ({ page }) => {
  // The current API has no fallback field yet: add it to the real /health answer.
  await page.route(`${API_URL}/health`, async (route) => {
    const response = await route.fetch();
    const health = await response.json();
    await route.fulfill({
      response,
      json: { ...health, fallback: true, encoder_label: "Colour histogram (fallback)" },
    });
  });
  await openApp(page, "/");
  const banner = page.getByTestId("fallback-banner");
  await expect(banner).toContainText(/lower-quality fallback encoder/i);
  await expect(banner).toContainText("Colour histogram (fallback)");
  await expect(page.getByTestId("encoder-status")).toContainText("Colour histogram (fallback)");
});
