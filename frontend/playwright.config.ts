/**
 * End-to-end tests: headless Debian Chromium against the real API (a real index built by the real
 * pipeline, see e2e/start-backend.sh) and the real `next build` output served by `next start`.
 * Run with `make web-e2e` (installs what is missing and builds first) or `npm run e2e`.
 */

import { existsSync } from "node:fs";

import { defineConfig } from "@playwright/test";

import {
  API_KEY,
  API_PORT,
  API_URL,
  BUSY_API_PORT,
  BUSY_API_URL,
  BUSY_WEB_PORT,
  BUSY_WEB_URL,
  DEAD_API_URL,
  DOWN_WEB_PORT,
  DOWN_WEB_URL,
  KEY_API_PORT,
  KEY_API_URL,
  KEY_WEB_PORT,
  KEY_WEB_URL,
  WEB_PORT,
  WEB_URL,
} from "./e2e/env";

if (!existsSync(".next/BUILD_ID")) {
  throw new Error("No production build in .next/: run `npm run build` (or `make web-e2e`) first.");
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const reuse = process.env.E2E_REUSE_SERVERS === "1";
const nextStart = (port: number) => `node_modules/.bin/next start --hostname 127.0.0.1 --port ${port}`;

export default defineConfig({
  testDir: "./e2e",
  outputDir: "./test-results",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  workers: Number(process.env.E2E_WORKERS ?? 2),
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  use: {
    baseURL: WEB_URL,
    browserName: "chromium",
    viewport: { width: 1280, height: 800 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright's own browser downloads cannot run here.
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: [
    {
      command: "bash e2e/start-backend.sh",
      url: `${API_URL}/health`,
      env: { E2E_API_PORT: String(API_PORT), E2E_WEB_ORIGINS: `${WEB_URL},${DOWN_WEB_URL}` },
      timeout: 240_000,
      reuseExistingServer: reuse,
      stdout: "ignore",
      stderr: "pipe",
      gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    },
    {
      command: nextStart(WEB_PORT),
      url: WEB_URL,
      env: { NEXT_PUBLIC_API_BASE_URL: API_URL, NEXT_TELEMETRY_DISABLED: "1" },
      timeout: 60_000,
      reuseExistingServer: reuse,
      gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    },
    {
      // The index the first server built, served by an API that sheds load at once (e2e/busy.spec.ts).
      command: "bash e2e/start-busy-backend.sh",
      url: `${BUSY_API_URL}/health`,
      env: { E2E_API_PORT: String(BUSY_API_PORT), E2E_WEB_ORIGINS: BUSY_WEB_URL },
      timeout: 120_000,
      reuseExistingServer: reuse,
      stdout: "ignore",
      stderr: "pipe",
      gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    },
    {
      // The same build pointed at the busy API: the "busy, retrying" state.
      command: nextStart(BUSY_WEB_PORT),
      url: BUSY_WEB_URL,
      env: { NEXT_PUBLIC_API_BASE_URL: BUSY_API_URL, NEXT_TELEMETRY_DISABLED: "1" },
      timeout: 60_000,
      reuseExistingServer: reuse,
      gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    },
    {
      // The same build pointed at a dead API port: the "backend is down" state.
      command: nextStart(DOWN_WEB_PORT),
      url: DOWN_WEB_URL,
      env: { NEXT_PUBLIC_API_BASE_URL: DEAD_API_URL, NEXT_TELEMETRY_DISABLED: "1" },
      timeout: 60_000,
      reuseExistingServer: reuse,
      gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    },
    {
      // The index the first server built, served by an API that requires a key (servers start
      // in this order, each once the one before is ready; a 401 counts as ready).
      command: "bash e2e/start-backend.sh",
      url: `${KEY_API_URL}/health`,
      env: {
        E2E_SERVE_ONLY: "1",
        E2E_API_PORT: String(KEY_API_PORT),
        E2E_WEB_ORIGINS: KEY_WEB_URL,
        IMAGESEARCH_API_KEY: API_KEY,
      },
      timeout: 120_000,
      reuseExistingServer: reuse,
      stdout: "ignore",
      stderr: "pipe",
      gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    },
    {
      // The same build given that key: the browser sends it, image URLs are signed.
      command: nextStart(KEY_WEB_PORT),
      url: KEY_WEB_URL,
      env: { NEXT_PUBLIC_API_BASE_URL: KEY_API_URL, NEXT_PUBLIC_API_KEY: API_KEY, NEXT_TELEMETRY_DISABLED: "1" },
      timeout: 60_000,
      reuseExistingServer: reuse,
      gracefulShutdown: { signal: "SIGTERM", timeout: 5_000 },
    },
  ],
});
