// A real browser (Debian Chromium) plays the user on the emulator's sign-in and consent pages,
// the way a person signs in to Microsoft: authorization code + PKCE to a loopback redirect.
import { expect, test, type Page } from "@playwright/test";
import path from "node:path";
import { screenshotsDir } from "../support/paths";
import { authorizeUrl, decodeJwt, pkce, randomState, redirectCatcher } from "../support/oauth";
import { startSandbox, type SandboxStatus } from "../support/sandbox";
import type { Spawned } from "../support/processes";

let sandbox: SandboxStatus;
let sandboxProcess: Spawned;

test.beforeAll(async () => {
  ({ status: sandbox, process: sandboxProcess } = await startSandbox());
});

test.afterAll(async () => {
  await sandboxProcess?.kill();
});

const scopes = "openid profile offline_access User.Read";

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotsDir, `emulator-${name}.png`), fullPage: true });
}

async function openSignIn(
  page: Page,
  redirectUri: string,
  state: string,
  challenge: string,
  { nonce = "n-1", prompt = "select_account" } = {},
) {
  await page.goto(
    authorizeUrl(sandbox.baseUrl, "organizations", {
      client_id: sandbox.demoClientId,
      response_type: "code",
      redirect_uri: redirectUri,
      scope: scopes,
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: "S256",
      prompt,
    }),
  );
}

test("signs in with PKCE through the emulator's pages and calls Graph with the token", async ({ page }) => {
  const catcher = await redirectCatcher();
  const { verifier, challenge } = pkce();
  const state = randomState();
  try {
    await openSignIn(page, catcher.redirectUri, state, challenge, { nonce: "nonce-42" });
    await expect(page.locator("#username")).toBeVisible();
    await shot(page, "sign-in");
    await page.fill("#username", sandbox.demoUsername);
    await page.fill("#password", sandbox.demoPassword);
    await page.click("#signin");

    await expect(page.locator("#consent-scopes")).toContainText("User.Read");
    await shot(page, "consent");
    await page.click("#consent-accept");

    const redirected = await catcher.received;
    expect(redirected.searchParams.get("state")).toBe(state);
    const code = redirected.searchParams.get("code");
    expect(code).toBeTruthy();

    const response = await fetch(`${sandbox.baseUrl}/organizations/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: sandbox.demoClientId,
        code: code ?? "",
        redirect_uri: catcher.redirectUri,
        code_verifier: verifier,
        scope: scopes,
        client_info: "1",
      }),
    });
    const token = (await response.json()) as Record<string, string | number>;
    expect(response.status, JSON.stringify(token)).toBe(200);
    expect(token.token_type).toBe("Bearer");
    expect(token.refresh_token).toBeTruthy();
    expect(Number(token.expires_in)).toBeGreaterThan(300);
    const idClaims = decodeJwt(String(token.id_token));
    expect(idClaims.nonce).toBe("nonce-42");
    expect(idClaims.preferred_username).toBe(sandbox.demoUsername);
    expect(idClaims.aud).toBe(sandbox.demoClientId);
    const clientInfo = JSON.parse(Buffer.from(String(token.client_info), "base64url").toString());
    expect(clientInfo.utid).toBe(sandbox.tenantId);

    const me = await fetch(`${sandbox.baseUrl}/v1.0/me`, {
      headers: { authorization: `Bearer ${token.access_token}` },
    });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { userPrincipalName: string }).userPrincipalName).toBe(sandbox.demoUsername);

    // The same code cannot be redeemed twice (AADSTS54005).
    const replay = await fetch(`${sandbox.baseUrl}/organizations/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: sandbox.demoClientId,
        code: code ?? "",
        redirect_uri: catcher.redirectUri,
        code_verifier: verifier,
        scope: scopes,
      }),
    });
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error_codes: number[] }).error_codes).toContain(54005);
  } finally {
    catcher.close();
  }
});

test("a wrong password keeps the user on the sign-in page with Microsoft's error", async ({ page }) => {
  const catcher = await redirectCatcher();
  try {
    await openSignIn(page, catcher.redirectUri, randomState(), pkce().challenge);
    await page.fill("#username", sandbox.demoUsername);
    await page.fill("#password", "not-the-password");
    await page.click("#signin");
    await expect(page.locator("#error")).toContainText("AADSTS50126");
    await expect(page.locator("#password")).toBeVisible();
    await shot(page, "wrong-password");
  } finally {
    catcher.close();
  }
});

test("cancelling consent sends access_denied back to the app with the state", async ({ page }) => {
  const catcher = await redirectCatcher();
  const state = randomState();
  try {
    // The demo user consented in the first test; prompt=consent asks again, as Microsoft does.
    await openSignIn(page, catcher.redirectUri, state, pkce().challenge, { prompt: "consent" });
    await page.fill("#username", sandbox.demoUsername);
    await page.fill("#password", sandbox.demoPassword);
    await page.click("#signin");
    await page.click("#consent-cancel");
    const redirected = await catcher.received;
    expect(redirected.searchParams.get("error")).toBe("access_denied");
    expect(redirected.searchParams.get("error_description")).toContain("AADSTS65004");
    expect(redirected.searchParams.get("state")).toBe(state);
    expect(redirected.searchParams.get("code")).toBeNull();
  } finally {
    catcher.close();
  }
});

test("an unregistered redirect URI gets an error page and never a redirect", async ({ page }) => {
  const catcher = await redirectCatcher();
  try {
    await openSignIn(page, "https://attacker.invalid/callback", randomState(), pkce().challenge);
    await expect(page.locator("#error-code")).toContainText("50011");
    expect(new URL(page.url()).host).toBe(new URL(sandbox.baseUrl).host);
    await shot(page, "redirect-mismatch");
  } finally {
    catcher.close();
  }
});
