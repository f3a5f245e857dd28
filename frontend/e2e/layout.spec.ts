import { expect, type Page, test } from "@playwright/test";

import { IMAGE_COUNT } from "./env";
import { gridColumns, openApp, resultCards, screenshotPath } from "./fixtures";

async function screenshotBothThemes(page: Page, name: string) {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    await page.mouse.move(0, 0); // no hover effects in the picture
    await page.screenshot({ path: screenshotPath(`${name}-${colorScheme}`), animations: "disabled" });
  }
}

async function showResults(page: Page) {
  await openApp(page, "/?q=people+hiking+in+the+mountains");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  // Every visible image has loaded (decoded), so the screenshots show pictures, not placeholders.
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll<HTMLImageElement>("[data-testid=result-card] img"))
      .filter((img) => img.getBoundingClientRect().top < window.innerHeight)
      .every((img) => img.complete && img.naturalWidth > 0),
  );
}

test.describe("desktop", () => {
  test.use({ viewport: { width: 1280, height: 800 } });

  test("results fill at least four columns; screenshots", async ({ page }) => {
    await showResults(page);
    expect(await gridColumns(page.getByTestId("result-grid"))).toBeGreaterThanOrEqual(4);
    await screenshotBothThemes(page, "results-desktop");
  });

  test("the query builder and ranking options; screenshots", async ({ page }) => {
    await showResults(page);
    await resultCards(page).nth(1).getByRole("button", { name: "Add result 2 to the query" }).click();
    await resultCards(page).nth(4).getByRole("button", { name: "Exclude result 5 from the query" }).click();
    await expect(page.getByTestId("query-chip")).toHaveCount(3);
    await expect(page.getByLabel("Minimum match")).toBeVisible();
    await expect(page.getByLabel("Collapse near-duplicates")).toBeVisible();
    await screenshotBothThemes(page, "query-builder-desktop");
  });

  test("a result opens in a larger view; arrow keys move through results; Escape closes", async ({ page }) => {
    await showResults(page);
    const opener = resultCards(page).nth(1).getByRole("button", { name: /^Open result 2/ });
    await opener.click();

    const dialog = page.getByRole("dialog");
    await expect(dialog).toBeVisible();
    await expect(dialog.getByTestId("lightbox-position")).toHaveText(`2 / ${IMAGE_COUNT}`);
    await expect(dialog.getByTestId("lightbox-image")).toBeVisible();

    await page.keyboard.press("ArrowRight");
    await expect(dialog.getByTestId("lightbox-position")).toHaveText(`3 / ${IMAGE_COUNT}`);
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    await expect(dialog.getByTestId("lightbox-position")).toHaveText(`1 / ${IMAGE_COUNT}`);
    await page.keyboard.press("ArrowLeft"); // already the first: stays
    await expect(dialog.getByTestId("lightbox-position")).toHaveText(`1 / ${IMAGE_COUNT}`);

    await page.keyboard.press("Escape");
    await expect(page.getByRole("dialog")).toHaveCount(0);
    await expect(opener).toBeFocused(); // focus returns to the card that opened it
  });
});

test.describe("phone", () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });

  test("results stack in one column with nothing wider than the screen; screenshots", async ({ page }) => {
    await showResults(page);
    expect(await gridColumns(page.getByTestId("result-grid"))).toBe(1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshotBothThemes(page, "results-phone");
  });

  test("the query builder and options fit the screen", async ({ page }) => {
    await showResults(page);
    await resultCards(page).first().getByRole("button", { name: "Add result 1 to the query" }).click();
    await expect(page.getByTestId("query-chip")).toHaveCount(2);
    await page.getByLabel("Word or phrase to add").fill("a very long phrase that should wrap or truncate on a phone");
    await page.getByRole("button", { name: "− Less like" }).click();
    await expect(page.getByTestId("query-chip")).toHaveCount(3);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshotBothThemes(page, "query-builder-phone");
  });
});
