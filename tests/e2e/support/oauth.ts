import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

export function randomState(): string {
  return randomBytes(16).toString("base64url");
}

/** A one-shot loopback listener, as a desktop app uses for its redirect URI. */
export async function redirectCatcher(): Promise<{ redirectUri: string; received: Promise<URL>; close(): void }> {
  let deliver: (url: URL) => void = () => undefined;
  const received = new Promise<URL>((resolve) => (deliver = resolve));
  const server = http.createServer((request, response) => {
    response.writeHead(200, { "content-type": "text/html" }).end("<p id=done>Signed in. You can close this window.</p>");
    deliver(new URL(request.url ?? "/", redirectUri));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { redirectUri, received, close: () => server.close() };
}

export function authorizeUrl(base: string, tenant: string, params: Record<string, string>): string {
  const url = new URL(`${base}/${tenant}/oauth2/v2.0/authorize`);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

export function decodeJwt(token: string): Record<string, unknown> {
  const payload = token.split(".")[1];
  if (!payload) throw new Error("not a JWT");
  return JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
}
