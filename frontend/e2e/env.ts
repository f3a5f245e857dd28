/** Where the end-to-end servers listen (playwright.config.ts starts them; specs talk to them). */

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export const API_PORT = port("E2E_API_PORT", 8765);
export const WEB_PORT = port("E2E_WEB_PORT", 3100);
/** A second `next start` of the same build, pointed at a port where no API listens. */
export const DOWN_WEB_PORT = port("E2E_DOWN_WEB_PORT", WEB_PORT + 1);
export const DEAD_API_PORT = port("E2E_DEAD_API_PORT", 8799);
/** A second API over the same index with a tiny queue budget (e2e/start-busy-backend.sh), and a UI for it. */
export const BUSY_API_PORT = port("E2E_BUSY_API_PORT", API_PORT + 2);
export const BUSY_WEB_PORT = port("E2E_BUSY_WEB_PORT", WEB_PORT + 3);

/** A second API over the same index that requires a key, and a UI given that key (e2e/access.spec.ts). */
export const KEY_API_PORT = port("E2E_KEY_API_PORT", API_PORT + 1);
export const KEY_WEB_PORT = port("E2E_KEY_WEB_PORT", WEB_PORT + 2);
export const API_KEY = "e2e-key-0123456789abcdefghijklmnop";

export const API_URL = `http://127.0.0.1:${API_PORT}`;
export const WEB_URL = `http://127.0.0.1:${WEB_PORT}`;
export const DOWN_WEB_URL = `http://127.0.0.1:${DOWN_WEB_PORT}`;
export const DEAD_API_URL = `http://127.0.0.1:${DEAD_API_PORT}`;
export const KEY_API_URL = `http://127.0.0.1:${KEY_API_PORT}`;
export const KEY_WEB_URL = `http://127.0.0.1:${KEY_WEB_PORT}`;
export const BUSY_API_URL = `http://127.0.0.1:${BUSY_API_PORT}`;
export const BUSY_WEB_URL = `http://127.0.0.1:${BUSY_WEB_PORT}`;

/** How many images e2e/start-backend.sh indexes. */
export const IMAGE_COUNT = port("E2E_IMAGE_COUNT", 20);
