import { readFile } from "node:fs/promises";

import { expect, type Page, type Request, test } from "@playwright/test";

import { apiPost, imagePath, openApp, resultCards, searchFor, shownIds } from "./fixtures";

const builder = (page: Page) => page.getByTestId("query-builder");
const chips = (page: Page) => page.getByTestId("query-chip");

/** The next POST /search the page sends, and its JSON body. */
async function nextCombinedSearch(page: Page, act: () => Promise<void>): Promise<Record<string, unknown>> {
  const sent = page.waitForRequest(
    (request: Request) => request.method() === "POST" && new URL(request.url()).pathname === "/search",
  );
  await act();
  return (await sent).postDataJSON() as Record<string, unknown>;
}

test("result actions build a combined query of chips; it runs as POST /search and round-trips through the URL", async ({
  page,
  request,
}) => {
  await openApp(page, "/");
  await searchFor(page, "a red sports car");
  await expect(resultCards(page).nth(3)).toBeVisible();
  const [, second, , fourth] = await shownIds(page);

  // "Add to query" starts from the text search shown, then the image; "Exclude" adds a − chip.
  await resultCards(page).nth(1).getByRole("button", { name: "Add result 2 to the query" }).click();
  await expect(builder(page)).toBeVisible();
  await expect(chips(page)).toHaveCount(2);
  await resultCards(page).nth(3).getByRole("button", { name: "Exclude result 4 from the query" }).click();
  await expect(chips(page)).toHaveCount(3);
  await expect(chips(page).nth(0)).toContainText("“a red sports car”");
  await expect(chips(page).nth(0)).toHaveAttribute("data-sign", "+");
  await expect(chips(page).nth(2)).toHaveAttribute("data-sign", "-");

  // Weight 2× on the words; a fourth chip added and removed again.
  await builder(page).getByLabel("Weight of “a red sports car”").selectOption("2");
  await builder(page).getByLabel("Word or phrase to add").fill("grass");
  await builder(page).getByRole("button", { name: "− Less like" }).click();
  await expect(chips(page)).toHaveCount(4);
  await builder(page).getByRole("button", { name: "Remove “grass”" }).click();
  await expect(chips(page)).toHaveCount(3);

  const body = await nextCombinedSearch(page, () =>
    builder(page).getByRole("button", { name: "Search combined" }).click(),
  );
  const terms = [
    { text: "a red sports car", weight: 2 },
    { image_id: second, weight: 1 },
    { image_id: fourth, weight: -1 },
  ];
  expect(body).toMatchObject({ terms, top_k: 24, offset: 0, dedupe: false, min_score: null });
  await expect(page).toHaveURL(
    new RegExp(`/\\?term=2%3At%3Aa\\+red\\+sports\\+car&term=1%3Ai%3A${second}&term=-1%3Ai%3A${fourth}$`),
  );

  // Shown in the API's own order; the images given as terms are left out of the results.
  const expected = await apiPost(request, "/search", { terms, top_k: 24 });
  await expect(resultCards(page)).toHaveCount(expected.results.length);
  expect(await shownIds(page)).toEqual(expected.results.map((result) => result.id));
  expect(await shownIds(page)).not.toContain(second);
  expect(await shownIds(page)).not.toContain(fourth);
  await expect(page.getByTestId("results-heading")).toContainText("2×“a red sports car”");

  // Reloading the shared link restores the chips and the same results.
  await page.reload();
  await expect(chips(page)).toHaveCount(3);
  await expect(chips(page).nth(0)).toHaveAttribute("data-weight", "2");
  await expect(chips(page).nth(1)).toContainText(`Image #${second}`);
  await expect(resultCards(page)).toHaveCount(expected.results.length);
  expect(await shownIds(page)).toEqual(expected.results.map((result) => result.id));
});

test("an uploaded image is sent as base64; the builder is usable with the keyboard alone", async ({
  page,
  request,
}) => {
  await openApp(page, "/");
  await page.getByRole("button", { name: "Combine words and images" }).click();
  await expect(builder(page)).toBeVisible();

  // Words: type and press Enter ("+"); a chip's sign toggles from the keyboard.
  const word = builder(page).getByLabel("Word or phrase to add");
  await word.fill("night sky");
  await word.press("Enter");
  await expect(chips(page)).toHaveCount(1);
  const sign = chips(page).first().getByRole("button", { name: /^More like “night sky”/ });
  await sign.focus();
  await page.keyboard.press("Enter");
  await expect(chips(page).first()).toHaveAttribute("data-sign", "-");
  // Only a "less like" term: nothing to search for yet.
  await expect(builder(page).getByRole("button", { name: "Search combined" })).toBeDisabled();
  await expect(page.getByTestId("query-builder-note")).toContainText("at least one “more like”");

  const chooser = page.waitForEvent("filechooser");
  await builder(page).getByRole("button", { name: "Add an image" }).click();
  await (await chooser).setFiles(imagePath("set0/img0006.jpg"));
  await expect(chips(page)).toHaveCount(2);
  await expect(chips(page).nth(1)).toContainText("img0006.jpg");
  await expect(page.getByTestId("query-builder-note")).toContainText("Uploaded images are not kept in the link");
  await builder(page).getByLabel("Weight of img0006.jpg").selectOption("3");

  const run = builder(page).getByRole("button", { name: "Search combined" });
  await run.focus();
  const body = await nextCombinedSearch(page, () => page.keyboard.press("Enter"));
  const sent = body.terms as Array<Record<string, unknown>>;
  expect(sent[0]).toEqual({ text: "night sky", weight: -1 });
  expect(sent[1]).toEqual({ image_b64: (await readFile(imagePath("set0/img0006.jpg"))).toString("base64"), weight: 3 });
  // Only the words are shareable; the upload stays in memory.
  await expect(page).toHaveURL(/\/\?term=-1%3At%3Anight\+sky$/);
  const expected = await apiPost(request, "/search", { terms: sent, top_k: 24 });
  await expect(resultCards(page)).toHaveCount(expected.results.length);
  expect(await shownIds(page)).toEqual(expected.results.map((result) => result.id));
  await expect(page.getByTestId("results-heading")).toContainText("− “night sky” + 3×img0006.jpg");
});

test("the larger view adds its image to the query; a combined query with words sends hybrid", async ({ page }) => {
  await openApp(page, "/?q=a+dog&hybrid=0.5");
  await expect(resultCards(page).nth(2)).toBeVisible();
  const third = Number(await resultCards(page).nth(2).getAttribute("data-result-id"));
  await resultCards(page).nth(2).getByRole("button", { name: /^Open result 3/ }).click();
  await page.getByRole("dialog").getByRole("button", { name: "− Exclude" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(chips(page)).toHaveCount(2);
  await expect(chips(page).nth(1)).toHaveAttribute("data-sign", "-");

  const body = await nextCombinedSearch(page, () =>
    builder(page).getByRole("button", { name: "Search combined" }).click(),
  );
  expect(body).toMatchObject({
    terms: [
      { text: "a dog", weight: 1 },
      { image_id: third, weight: -1 },
    ],
    hybrid: 0.5,
  });
  await expect(page).toHaveURL(new RegExp(`\\?term=1%3At%3Aa\\+dog&term=-1%3Ai%3A${third}&hybrid=0\\.5$`));
  await expect(page.getByLabel("Match captions and text in images")).toHaveValue("0.5");
});
