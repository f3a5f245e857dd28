/**
 * Signed image URLs for an API that requires a key (IMAGESEARCH_API_KEY).
 *
 * An `<img src>` cannot send the X-API-Key header, so `GET /images/{id}` also accepts `sig`: the
 * first 32 hex digits of HMAC-SHA256(key, "imagesearch-image:<id>") (backend/imagesearch/api/
 * access.py). Search results carry it already; this computes it for ids the UI only knows from
 * its URL (`?similar=42`, a combined query's image term). Synchronous, with @noble/hashes (an
 * audited implementation): WebCrypto is asynchronous and missing on plain-http origins.
 */

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

const SIGNATURE_HEX_DIGITS = 32;

/** The `sig` of image `id` under `key`. */
export function signImageId(key: string, id: number): string {
  const mac = hmac(sha256, utf8ToBytes(key), utf8ToBytes(`imagesearch-image:${id}`));
  return bytesToHex(mac).slice(0, SIGNATURE_HEX_DIGITS);
}
