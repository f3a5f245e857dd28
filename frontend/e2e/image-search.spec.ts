import { expect, test } from "@playwright/test";

import { IMAGE_COUNT } from "./env";
import {
  dataTransferWithFile,
  expectFirstResultIs,
  imagePath,
  openApp,
  resultCards,
  searchFor,
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

test("'More like this' searches with that result, which comes back first; Back returns to the text", async ({
  page,
}) => {
  await openApp(page, "/");
  await searchFor(page, "a bowl of fruit");
  await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
  const third = resultCards(page).nth(2);
  const alt = await third.getByRole("img").getAttribute("alt");
  const fileName = alt!.replace(/^Result 3: /, "");

  await third.getByRole("button", { name: "More like result 3" }).click();

  await expect(page.getByTestId("query-image")).toContainText(fileName);
  await expect(page.getByTestId("results-heading")).toContainText("similar to your image");
  await expectFirstResultIs(page, fileName);
  await expect(resultCards(page).first().getByTestId("result-score")).toHaveText(/^(1\.000|0\.99\d)$/);

  await page.goBack();
  await expect(page).toHaveURL(/\?q=a\+bowl\+of\+fruit$/);
  await expect(page.getByTestId("results-heading")).toContainText("“a bowl of fruit”");
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
