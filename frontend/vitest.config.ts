// Unit tests of the pure modules (lib/*.test.ts): `npm run test:unit`. No browser, no DOM: the
// browser tests are the Playwright specs in e2e/ (kept out of here).
import { fileURLToPath } from "node:url";

import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL(".", import.meta.url)) } },
  test: {
    include: ["lib/**/*.test.ts", "hooks/**/*.test.ts"],
    environment: "node",
  },
});
