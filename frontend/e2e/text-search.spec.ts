import { expect, test } from "@playwright/test";

import { IMAGE_COUNT } from "./env";
import {
  expectSortedDescending,
  openApp,
  resultCards,
  searchBox,
  searchFor,
  shownScores,
} from "./fixtures";

test("a text search shows scored results, skeletons while it runs, and puts the query in the URL", async ({
  page,
}) => {
  await openApp(page, "/");
  await expect(page.getByTestId("welcome")).toBeVisible();
  await expect(page.getByTestId("encoder-status")).toContainText("test-tiny-clip");

  // Hold the API's answer back until the loading state has been seen (the answer is real), so
  // a slow poll on a busy machine cannot miss the skeletons.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  await page.route("**/search?*", async (route) => {
    await held;
    await route.continue();
  });
  await searchFor(page, "a red sports car");

  await expect(page.getByTestId("result-skeleton").first()).toBeVisible();
  release();
  await expect(page).toHaveURL(/\/\?q=a\+red\+sports\+car$/);
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expect(page.getByTestId("results-heading")).toHaveText(`${IMAGE_COUNT} results for “a red sports car”`);
  expectSortedDescending(await shownScores(page));
  await expect(page.getByTestId("result-skeleton")).toHaveCount(0);
});

test("reloading a ?q= URL restores the search, and Back/Forward walk through searches", async ({ page }) => {
  await openApp(page, "/?q=a+person");
  await expect(searchBox(page)).toHaveValue("a person");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);

  await searchBox(page).fill("city at night");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expect(page).toHaveURL(/\?q=city\+at\+night$/);
  await expect(page.getByTestId("results-heading")).toContainText("“city at night”");

  await page.goBack();
  await expect(page).toHaveURL(/\?q=a\+person$/);
  await expect(searchBox(page)).toHaveValue("a person");
  await expect(page.getByTestId("results-heading")).toContainText("“a person”");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);

  await page.goForward();
  await expect(page).toHaveURL(/\?q=city\+at\+night$/);
  await expect(searchBox(page)).toHaveValue("city at night");

  await page.reload();
  await expect(searchBox(page)).toHaveValue("city at night");
  await expect(page.getByTestId("results-heading")).toHaveText(`${IMAGE_COUNT} results for “city at night”`);
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
});

test("example queries start a search; the logo goes back to the start", async ({ page }) => {
  await openApp(page, "/");
  await page.getByRole("button", { name: "city skyline at night" }).click();
  await expect(page).toHaveURL(/\?q=city\+skyline\+at\+night$/);
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);

  await page.getByRole("link", { name: "ImageSearch" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("welcome")).toBeVisible();
});

test("the number of results is chosen, and 'Load more' appends the next results", async ({ page }) => {
  await openApp(page, "/?q=snowy+forest&k=12");
  const perPage = page.getByLabel("Results per page");
  await expect(perPage).toHaveValue("12");
  await expect(resultCards(page)).toHaveCount(12);
  const firstPage = await resultCards(page).evaluateAll((cards) => cards.map((card) => card.dataset.resultId));

  await page.getByRole("button", { name: "Load more" }).click();
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  const all = await resultCards(page).evaluateAll((cards) => cards.map((card) => card.dataset.resultId));
  expect(all.slice(0, 12)).toEqual(firstPage);
  expect(new Set(all).size).toBe(IMAGE_COUNT);
  expectSortedDescending(await shownScores(page));
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0); // the index is exhausted

  await perPage.selectOption("48");
  await expect(page).toHaveURL(/\?q=snowy\+forest&k=48$/);
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
});
