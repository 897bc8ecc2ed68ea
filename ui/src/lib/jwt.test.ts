import { describe, expect, it } from "vitest";
import { decodeJwt, describeClaim, formatClaim } from "./jwt";

function base64url(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

describe("decodeJwt", () => {
  it("decodes the header and claims, base64url without padding, UTF-8 included", () => {
    const header = { alg: "RS256", typ: "JWT", kid: "k1" };
    const payload = { aud: "https://graph.microsoft.com", name: "Zoë Ærø ✓", scp: "User.Read Mail.Read", exp: 1763803600, pad: "?>?" };
    const token = `${base64url(header)}.${base64url(payload)}.c2lnbmF0dXJl`;
    expect(token).not.toContain("=");
    expect(decodeJwt(token)).toEqual({ header, payload });
  });

  it("answers null for opaque tokens and malformed ones", () => {
    expect(decodeJwt("EwBwA8l6BAAU...opaque")).toBeNull();
    expect(decodeJwt("a.b")).toBeNull();
    expect(decodeJwt("!!.@@.##")).toBeNull();
    expect(decodeJwt(`${base64url([1, 2])}.${base64url({})}.x`)).toBeNull();
    expect(decodeJwt(`${base64url({})}.bm90IGpzb24.x`)).toBeNull();
  });
});

describe("formatClaim", () => {
  it("shows times as dates with the raw value, lists joined, objects as JSON", () => {
    expect(formatClaim("exp", 0)).toMatch(/\(0\)$/);
    expect(formatClaim("amr", ["pwd", "mfa"])).toBe("pwd, mfa");
    expect(formatClaim("xms", { a: 1 })).toBe('{"a":1}');
    expect(formatClaim("scp", "User.Read")).toBe("User.Read");
    expect(formatClaim("ver", 2)).toBe("2");
    expect(describeClaim("scp")).toBe("Delegated scopes");
  });
});
