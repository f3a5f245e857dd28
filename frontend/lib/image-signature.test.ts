import { describe, expect, it } from "vitest";

import { createApiClient } from "@/lib/api";
import { signImageId } from "@/lib/image-signature";

const KEY = "k3y-for-tests-0123456789abcdefXYZ";

describe("signImageId", () => {
  it("gives the backend's signature (pinned in backend/tests/api/test_access.py, and by openssl)", () => {
    // printf 'imagesearch-image:17' | openssl dgst -sha256 -hmac 'k3y-for-tests-0123456789abcdefXYZ'
    expect(signImageId(KEY, 17)).toBe("4a360a099061fce444e34c2f8930b05f");
  });

  it("differs between ids and between keys", () => {
    expect(signImageId(KEY, 18)).not.toBe(signImageId(KEY, 17));
    expect(signImageId(`${KEY}!`, 17)).not.toBe(signImageId(KEY, 17));
    expect(signImageId(KEY, 0)).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("imageUrl", () => {
  it("signs image URLs when the client has a key", () => {
    const api = createApiClient("http://api.test", KEY);
    expect(api.imageUrl(17)).toBe("http://api.test/images/17?sig=4a360a099061fce444e34c2f8930b05f");
  });

  it("leaves them plain without one", () => {
    expect(createApiClient("http://api.test").imageUrl(17)).toBe("http://api.test/images/17");
    expect(createApiClient("http://api.test", "").imageUrl(17)).toBe("http://api.test/images/17");
  });
});
