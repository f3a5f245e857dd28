/**
 * The API docs and the UI on a machine without internet: every request to a host other than this
 * machine is aborted, so anything still loaded from a CDN (scripts, styles, fonts, images) fails.
 * /docs and /redoc are served from the files of an installed Python package (backend
 * imagesearch/api/docs.py), so they must still render, and ask for nothing elsewhere.
 */

import { type APIRequestContext, type BrowserContext, test as base, expect, type Page } from "@playwright/test";

import { API_URL, IMAGE_COUNT } from "./env";
import { escapeRegExp, openApp, resultCards, searchBox, searchFor } from "./fixtures";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Abort every request of the context whose host is not this machine; return the list of them. */
async function blockOtherHosts(context: BrowserContext): Promise<string[]> {
  const list: string[] = [];
  await context.route("**/*", (route, request) => {
    const { protocol, hostname } = new URL(request.url());
    const local = !protocol.startsWith("http") || LOCAL_HOSTS.has(hostname);
    if (local) return route.continue();
    list.push(request.url());
    return route.abort("internetdisconnected");
  });
  return list;
}

/** The summary the API's OpenAPI document gives an operation (what both docs pages show). */
async function operationSummary(request: APIRequestContext, method: string, path: string): Promise<string> {
  const response = await request.get(`${API_URL}/openapi.json`);
  expect(response.status()).toBe(200);
  const schema = await response.json();
  const summary = schema.paths[path]?.[method.toLowerCase()]?.summary;
  expect(summary, `${method} ${path} in /openapi.json`).toBeTruthy();
  return summary as string;
}

/** Swagger UI's block for one operation: a button named "GET /search <summary>". */
const swaggerOperation = (page: Page, method: string, path: string) =>
  page.getByRole("button", { name: new RegExp(`^${method} ${escapeRegExp(path)}( |$)`) });

/** Every test here runs offline: `blocked` lists what its pages asked of other hosts (printed at the end). */
const test = base.extend<{ blocked: string[] }>({
  blocked: [
    async ({ context }, use, testInfo) => {
      const blocked = await blockOtherHosts(context);
      await use(blocked);
      console.log(`[${testInfo.title}] requests blocked: ${blocked.length ? blocked.join(", ") : "none"}`);
    },
    { auto: true },
  ],
});

test.describe("with every request to another host blocked (offline)", () => {
  test("/docs (Swagger UI) loads from the API itself, lists the operations and runs one", async ({ page, blocked }) => {
    await page.goto(`${API_URL}/docs`);
    await expect(page.getByRole("heading", { level: 1, name: /Multimodal Image Search/ })).toBeVisible();
    for (const [method, path] of [
      ["GET", "/search"],
      ["POST", "/search-by-image"],
      ["GET", "/health"],
    ]) {
      await expect(swaggerOperation(page, method, path), `${method} ${path}`).toBeVisible();
    }

    // Interactive, not only drawn: "Try it out" on GET /health calls the API and shows its answer.
    await swaggerOperation(page, "GET", "/health").click();
    await page.getByRole("button", { name: "Try it out" }).click();
    await page.getByRole("button", { name: "Execute" }).click();
    await expect(page.getByRole("heading", { name: "Server response" })).toBeVisible();
    const serverResponse = page.getByRole("table").filter({ has: page.getByRole("cell", { name: "Details", exact: true }) });
    await expect(serverResponse.getByRole("cell", { name: "200", exact: true })).toBeVisible();
    await expect(serverResponse).toContainText('"status": "ok"');

    expect(blocked, "what /docs asked of other hosts").toEqual([]);
  });

  test("/redoc loads from the API itself and renders the operations", async ({ page, request, blocked }) => {
    const summary = await operationSummary(request, "GET", "/health");
    await page.goto(`${API_URL}/redoc`);
    await expect(page.getByRole("heading", { level: 1, name: /Multimodal Image Search/ })).toBeVisible();
    await expect(page.getByRole("menuitem", { name: summary, exact: true })).toBeVisible();
    await expect(
      page.getByRole("heading", { level: 2, name: new RegExp(`(^| )${escapeRegExp(summary)}$`) }),
    ).toBeVisible();
    await expect(page.getByRole("button", { name: "get /health", exact: true })).toBeVisible();

    expect(blocked, "what /redoc asked of other hosts").toEqual([]);
  });

  test("the UI shows its search box and a text search returns results", async ({ page }) => {
    await openApp(page, "/");
    await expect(searchBox(page)).toBeVisible();
    await searchFor(page, "a red sports car");
    await expect(resultCards(page)).toHaveCount(IMAGE_COUNT);
    await expect(page.getByTestId("results-heading")).toHaveText(`${IMAGE_COUNT} results for “a red sports car”`);
  });
});
