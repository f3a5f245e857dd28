import { expect, test } from "@playwright/test";

import { IMAGE_COUNT } from "./env";
import {
  apiGet,
  cardFileName,
  dataTransferWithFile,
  expectFirstResultIs,
  imagePath,
  openApp,
  resultCards,
  searchFor,
  shownIds,
} from "./fixtures";

test("an image chosen with the file picker is previewed, searched with, and can be cleared", async ({ page }) => {
  await openApp(page, "/");
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Search with an image" }).click();
  await (await chooser).setFiles(imagePath("set0/img0006.jpg"));

  const preview = page.getByTestId("query-image");
  await expect(preview).toContainText("img0006.jpg");
  await expect(preview.getByRole("img", { name: "Query image: img0006.jpg" })).toBeVisible();
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  await expectFirstResultIs(page, "img0006.jpg");

  await preview.getByRole("button", { name: "Clear image" }).click();
  await expect(page.getByTestId("query-image")).toHaveCount(0);
  await expect(page.getByTestId("welcome")).toBeVisible();
});

test("an image dropped anywhere on the page is searched with", async ({ page }) => {
  await openApp(page, "/?q=anything");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  const transfer = await dataTransferWithFile(page, imagePath("set1/img0013.png"), "image/png");

  await page.dispatchEvent("main", "dragenter", { dataTransfer: transfer });
  await expect(page.getByTestId("drop-overlay")).toBeVisible();
  await page.dispatchEvent("main", "drop", { dataTransfer: transfer });

  await expect(page.getByTestId("drop-overlay")).toHaveCount(0);
  await expect(page.getByTestId("query-image")).toContainText("img0013.png");
  await expect(page).toHaveURL(/\/$/); // the text query gave way to the image
  await expectFirstResultIs(page, "img0013.png");
});

test("an image pasted from the clipboard is searched with", async ({ page }) => {
  await openApp(page, "/");
  await expect(page.getByTestId("welcome")).toBeVisible();
  const transfer = await dataTransferWithFile(page, imagePath("set2/img0017.png"), "image/png");

  await page.evaluate((clipboardData) => {
    const paste = new ClipboardEvent("paste", { clipboardData, bubbles: true, cancelable: true });
    document.body.dispatchEvent(paste);
  }, transfer);

  await expect(page.getByTestId("query-image")).toContainText("img0017.png");
  await expectFirstResultIs(page, "img0017.png");
});

test("'More like this' asks /similar for that result (no upload), shareable as ?similar=; Back returns to the text", async ({
  page,
  request,
}) => {
  await openApp(page, "/");
  await searchFor(page, "a bowl of fruit");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  const third = resultCards(page).nth(2);
  const id = Number(await third.getAttribute("data-result-id"));
  const fileName = await cardFileName(third);

  const asked = page.waitForRequest((req) => new URL(req.url()).pathname === `/similar/${id}`);
  await third.getByRole("button", { name: "More like result 3" }).click();
  const similarRequest = await asked;
  expect(similarRequest.method()).toBe("GET");
  expect(new URL(similarRequest.url()).searchParams.get("top_k")).toBe("24");

  await expect(page).toHaveURL(new RegExp(`\\?similar=${id}$`));
  await expect(page.getByTestId("query-image")).toContainText(fileName);
  await expect(page.getByTestId("results-heading")).toContainText(`similar to ${fileName}`);
  // The API's own ranking, shown in the same order; the image itself is left out.
  const expected = await apiGet(request, `/similar/${id}?top_k=24`);
  await expect(resultCards(page)).toHaveCount(expected.results.length);
  expect(await shownIds(page)).toEqual(expected.results.map((result) => result.id));
  expect(await shownIds(page)).not.toContain(id);

  await page.goBack();
  await expect(page).toHaveURL(/\?q=a\+bowl\+of\+fruit$/);
  await expect(page.getByTestId("results-heading")).toContainText("“a bowl of fruit”");

  // A shared ?similar= link works without the result it came from.
  await page.goto(`/?similar=${id}`);
  await expect(page.getByTestId("query-image")).toContainText(`Image #${id}`);
  await expect(page.getByTestId("results-heading")).toContainText(`${expected.results.length} results similar to Image #${id}`);
  expect(await shownIds(page)).toEqual(expected.results.map((result) => result.id));
});

test("'More like this' for an id the index does not have shows the API's 404 in words", async ({ page }) => {
  await openApp(page, "/?similar=99999");
  const error = page.getByTestId("error-state");
  await expect(error.getByRole("heading")).toHaveText("That search couldn't run");
});

test("a file that is not an image gets a readable error from the API", async ({ page }) => {
  await openApp(page, "/");
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Choose an image" }).click();
  await (await chooser).setFiles({
    name: "notes.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("these are notes, not a picture\n"),
  });

  const error = page.getByTestId("error-state");
  await expect(error).toBeVisible();
  await expect(error.getByRole("heading")).toHaveText("We couldn't read that image");
  await expect(error).toContainText(/not an image/i); // the API's own words, as a sentence
  await expect(error.getByRole("button", { name: "Choose another image" })).toBeVisible();
});
