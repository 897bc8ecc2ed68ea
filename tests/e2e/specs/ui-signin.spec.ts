// The web UI end to end, as a newcomer uses it: the real daemon serves the built UI over its
// HTTP API, the sandbox (the bundled emulator) stands in for Microsoft, and Chromium plays the
// person — in the UI and, in the popup the UI opens, on the emulator's sign-in pages.
// Issue 6: register an app, pick scopes, sign in (loopback), see the account, copy a token,
// refresh, sign out.
import { decodeJwt } from "../support/oauth";
import {
  SANDBOX,
  emulatorGrants,
  expect,
  shot,
  startSandboxFromWelcome,
  test,
  texts,
} from "../support/ui-daemon";

interface AppView {
  name: string;
  client_id: string;
  tenant: string;
  authority: string;
  flow: string;
  redirect: string;
  default_scopes: string[];
}

test("register an app, sign in through the emulator, use the account and sign out", async ({ ui: page, context, daemon }) => {
  const ipc = await daemon.ipc();

  // First run: no app yet, so the guide and the sandbox.
  await expect(page.getByTestId("welcome")).toBeVisible();
  await expect(page.getByTestId("entra-guide")).toBeVisible();
  await expect(page.getByTestId("sandbox")).toBeVisible();
  await expect(page.getByTestId("backend-kind")).toHaveAttribute("data-kind", "http");
  await expect(page.getByTestId("backend-version")).toContainText("o365-auth ");
  await shot(page, "welcome");

  const baseUrl = await startSandboxFromWelcome(page);
  await expect(page.getByTestId("sandbox-app")).toHaveText("sandbox");
  await expect(page.getByTestId("sandbox-user")).toHaveText(SANDBOX.demo);
  // The guide stays although an app (the sandbox's) now exists.
  await expect(page.getByTestId("entra-guide")).toBeVisible();
  await shot(page, "welcome-sandbox-running");

  // An app of one's own, through the form: the public sandbox client at the emulator's
  // address as a custom authority, with the tenant's domain (the sandbox app has its GUID).
  await page.getByTestId("welcome-add-app").click();
  const form = page.getByTestId("app-form");
  await expect(form).toBeVisible();
  await form.getByTestId("app-name").fill("mine");
  await form.getByTestId("app-client-id").fill(SANDBOX.publicClientId);
  await form.getByTestId("app-tenant").fill(SANDBOX.domain);
  await form.getByTestId("app-cloud").selectOption("custom");
  await form.getByTestId("app-custom-url").fill(baseUrl);
  await expect(form.getByTestId("app-flow-public")).toBeChecked();
  await expect(form.getByTestId("app-redirect-loopback")).toBeChecked();

  // Scopes: the helper `basic` (ticked by default: tick it off and on) and a free-form scope.
  const basic = form.getByTestId("scope-helper-basic");
  await expect(basic).toBeChecked();
  await basic.uncheck();
  await expect(form.getByTestId("scope-preview")).toContainText("No default scopes");
  await basic.check();
  await form.getByTestId("scope-free").fill("Calendars.Read");
  const preview = form.getByTestId("scope-preview-scope");
  await expect(preview).toHaveText([
    "https://graph.microsoft.com/User.Read",
    "https://graph.microsoft.com/Calendars.Read",
    "offline_access",
    "openid",
    "profile",
  ]);
  await expect(form.getByTestId("scope-unknown")).toHaveCount(0);
  await shot(page, "app-form");
  await form.getByTestId("app-save").click();

  await expect(page.getByTestId("app-form")).toHaveCount(0);
  const row = page.locator('[data-testid="app-row"][data-app="mine"]');
  await expect(row).toBeVisible();
  await expect(row).toContainText(SANDBOX.publicClientId);
  await expect(row).toContainText(SANDBOX.domain);
  await shot(page, "apps");
  // What the service stored is what the form showed.
  const mine = (await ipc.ok<AppView[]>("apps.list")).find((app) => app.name === "mine");
  expect(mine).toMatchObject({
    client_id: SANDBOX.publicClientId,
    tenant: SANDBOX.domain,
    authority: `${baseUrl}/`,
    flow: "public",
    redirect: "loopback",
    default_scopes: ["basic", "Calendars.Read"],
  });

  // Sign in with the browser, as a colleague, from the app's row.
  await row.getByTestId("app-sign-in").click();
  const signin = page.getByTestId("signin-screen");
  await expect(signin).toBeVisible();
  await expect(signin.getByTestId("signin-app")).toHaveValue("mine");
  await expect(signin.getByTestId("signin-method-browser")).toBeChecked();
  await signin.getByTestId("signin-login-hint").fill(SANDBOX.adele);
  await expect(signin.getByTestId("scope-preview-scope")).toHaveText([
    "https://graph.microsoft.com/User.Read",
    "https://graph.microsoft.com/Calendars.Read",
    "offline_access",
    "openid",
    "profile",
  ]);
  await shot(page, "signin");

  const popupOpened = context.waitForEvent("page");
  await signin.getByTestId("signin-start").click();
  const popup = await popupOpened;
  await expect(signin.getByTestId("signin-browser")).toBeVisible();
  await expect(signin.getByTestId("signin-progress")).toBeVisible();
  const authorizeUrl = new URL(await signin.getByTestId("signin-url").getAttribute("href") ?? "");
  expect(authorizeUrl.origin).toBe(baseUrl);
  // The discovery document of a domain names the tenant by its ID, as Microsoft's does.
  expect(authorizeUrl.pathname).toBe(`/${SANDBOX.tenantId}/oauth2/v2.0/authorize`);
  expect(authorizeUrl.searchParams.get("login_hint")).toBe(SANDBOX.adele);
  expect(authorizeUrl.searchParams.get("redirect_uri")).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  await shot(page, "signin-waiting");

  // The hint is prefilled on the emulator's page; consent lists the free-form scope.
  await expect(popup.locator("#username")).toHaveValue(SANDBOX.adele);
  await expect(popup.locator("#password")).toBeVisible();
  await popup.fill("#password", SANDBOX.password);
  await shot(popup, "emulator-sign-in");
  await popup.click("#signin");
  await expect(popup.locator("#consent-scopes")).toContainText("Calendars.Read");
  await shot(popup, "emulator-consent");
  await popup.click("#consent-accept");
  await expect(popup).toHaveURL(new RegExp(`^${authorizeUrl.searchParams.get("redirect_uri")}/?\\?`));
  await expect(popup.locator("#signin-complete")).toHaveText("Signed in");
  await shot(popup, "loopback-done");
  await popup.close();

  await expect(signin.getByTestId("signin-done")).toBeVisible();
  await expect(signin.getByTestId("signin-done-account")).toContainText("Adele Vance");
  await expect(signin.getByTestId("signin-done-account")).toContainText(SANDBOX.adele);
  await expect(page.locator('[data-testid="toast"][data-kind="success"]', { hasText: "Signed in as Adele Vance" })).toBeVisible();
  await shot(page, "signin-done");

  // The account.
  await signin.getByTestId("signin-go-accounts").click();
  const card = page.locator(`[data-testid="account-card"][data-account="mine/${SANDBOX.adele}"]`);
  await expect(card).toBeVisible();
  await expect(page.getByTestId("account-card")).toHaveCount(1);
  await expect(card.getByTestId("account-status")).toHaveAttribute("data-status", "fresh");
  await expect(card.getByTestId("account-name")).toHaveText("Adele Vance");
  await expect(card.getByTestId("account-app")).toHaveText("mine");
  const expiry = card.getByTestId("account-expiry");
  await expect(expiry).toHaveText(/^59:\d\d$|^1 h 00 min$/);
  const firstCountdown = await expiry.innerText();
  // A live countdown: it ticks without any reload.
  await expect(expiry).not.toHaveText(firstCountdown, { timeout: 5_000 });
  expect((await texts(card.getByTestId("account-scopes").locator("li"))).sort()).toEqual(["Calendars.Read", "User.Read"]);
  await expect(card.getByTestId("account-last-refresh")).toHaveText("just now");
  await shot(page, "accounts");

  // Copy the token, then as a header: both land on the clipboard.
  await card.getByTestId("account-copy-token").click();
  await expect(page.locator('[data-testid="toast"][data-kind="success"]', { hasText: "Access token copied" })).toBeVisible();
  const token = await page.evaluate(() => navigator.clipboard.readText());
  expect(token.split(".")).toHaveLength(3);
  const claims = decodeJwt(token);
  expect(claims.upn).toBe(SANDBOX.adele);
  expect(claims.aud).toBe("https://graph.microsoft.com");
  expect(String(claims.scp).split(" ").sort()).toEqual(["Calendars.Read", "User.Read"]);
  // It works at the emulator's Graph.
  const me = await fetch(`${baseUrl}/v1.0/me`, { headers: { authorization: `Bearer ${token}` } });
  expect(me.status).toBe(200);
  expect(((await me.json()) as { userPrincipalName: string }).userPrincipalName).toBe(SANDBOX.adele);

  await card.getByTestId("account-copy-header").click();
  await expect(page.locator('[data-testid="toast"][data-kind="success"]', { hasText: "Authorization header copied" })).toBeVisible();
  const header = await page.evaluate(() => navigator.clipboard.readText());
  expect(header.startsWith("Authorization: Bearer ")).toBe(true);
  expect(header.slice("Authorization: Bearer ".length).split(".")).toHaveLength(3);

  // The claims of the access token. Graph's access tokens are v1 tokens, which name the user
  // in `upn` (preferred_username is a v2 and ID-token claim).
  await card.getByTestId("account-claims").click();
  const dialog = page.getByTestId("token-claims");
  await expect(dialog).toBeVisible();
  await expect(dialog.locator('[data-testid="claim-row"][data-claim="upn"]')).toContainText(SANDBOX.adele);
  await expect(dialog.locator('[data-testid="claim-row"][data-claim="name"]')).toContainText("Adele Vance");
  await expect(dialog.locator('[data-testid="claim-row"][data-claim="scp"]')).toContainText("Calendars.Read");
  await shot(page, "token-claims");
  await page.getByTestId("token-claims-close").click();
  await expect(dialog).toHaveCount(0);

  // Refresh now: a refresh_token grant reaches the emulator and the card shows the new expiry
  // (at least a second later: the countdown ticked above).
  const before = await emulatorGrants(baseUrl);
  const expiresBefore = await expiry.getAttribute("datetime");
  const lastRefresh = card.getByTestId("account-last-refresh").locator("span");
  const signedInAt = await lastRefresh.getAttribute("title");
  const [signedIn] = await ipc.ok<Array<{ last_refresh_at: number }>>("accounts.list");
  await card.getByTestId("account-refresh").click();
  await expect(page.locator('[data-testid="toast"][data-kind="success"]', { hasText: `Refreshed ${SANDBOX.adele}` })).toBeVisible();
  await expect(card.getByTestId("account-status")).toHaveAttribute("data-status", "fresh");
  await expect(card.getByTestId("account-refresh")).toBeEnabled();
  await expect(expiry).not.toHaveAttribute("datetime", expiresBefore ?? "");
  expect(Date.parse((await expiry.getAttribute("datetime")) ?? "")).toBeGreaterThan(Date.parse(expiresBefore ?? ""));
  // "Last refresh" follows too (it kept the sign-in time until 6be6c65: accounts.list answered
  // from a cached directory).
  await expect(lastRefresh).not.toHaveAttribute("title", signedInAt ?? "");
  const [refreshed] = await ipc.ok<Array<{ last_refresh_at: number }>>("accounts.list");
  expect(refreshed?.last_refresh_at).toBeGreaterThan(signedIn?.last_refresh_at ?? Infinity);
  const after = await emulatorGrants(baseUrl);
  expect((after.refresh_token ?? 0) - (before.refresh_token ?? 0)).toBe(1);
  await shot(page, "accounts-refreshed");

  // The activity log: the tokens the page copied were handed out over HTTP.
  await page.getByTestId("nav-activity").click();
  await expect(page.getByTestId("activity-screen")).toBeVisible();
  const rows = page.getByTestId("activity-row");
  await expect(rows.first()).toBeVisible();
  const http = rows.filter({ hasText: "HTTP API" }).filter({ hasText: SANDBOX.adele });
  // Copy, copy as header, claims and the refresh each handed out a token. Identical hand-outs
  // of one audit batch share a row that counts them ("×N").
  const handedOut = async () => {
    const audit = await ipc.ok<Array<{ channel: string; account: string; times: number }>>("audit.recent", { limit: 20 });
    return audit
      .filter((entry) => entry.channel === "http" && entry.account === SANDBOX.adele)
      .reduce((sum, entry) => sum + entry.times, 0);
  };
  await expect.poll(handedOut).toBeGreaterThanOrEqual(3);
  const shown = async () => {
    let sum = 0;
    for (const row of await http.all()) {
      const times = row.getByTestId("activity-times");
      sum += (await times.count()) > 0 ? Number((await times.innerText()).replace(/\D/g, "")) : 1;
    }
    return sum;
  };
  // The screen reloads when a token is handed out; the batch lands a moment later.
  await page.getByTestId("nav-accounts").click();
  await page.getByTestId("nav-activity").click();
  await expect.poll(shown).toBe(await handedOut());
  await expect(http.first().getByTestId("activity-exe")).toHaveText("the web UI");
  await expect(http.first()).toContainText("User.Read");
  await shot(page, "activity");

  // Sign out, after confirming; the card goes, and the service forgot the account.
  await page.getByTestId("nav-accounts").click();
  await expect(card).toBeVisible();
  await card.getByTestId("account-logout").click();
  const confirm = page.getByTestId("confirm-dialog");
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText(`Sign out ${SANDBOX.adele}?`);
  await shot(page, "sign-out-confirm");
  // Cancel first: nothing happens.
  await confirm.getByTestId("confirm-no").click();
  await expect(confirm).toHaveCount(0);
  await expect(card).toBeVisible();
  await card.getByTestId("account-logout").click();
  await page.getByTestId("confirm-yes").click();
  await expect(page.getByTestId("confirm-dialog")).toHaveCount(0);
  await expect(card).toHaveCount(0);
  await expect(page.getByTestId("accounts-empty")).toBeVisible();
  await expect(page.locator('[data-testid="toast"][data-kind="success"]', { hasText: `Signed out ${SANDBOX.adele}` })).toBeVisible();
  expect(await ipc.ok<unknown[]>("accounts.list")).toEqual([]);
  await shot(page, "accounts-empty");

  // The app stays, with no account.
  await page.getByTestId("nav-apps").click();
  await expect(page.locator('[data-testid="app-row"][data-app="mine"]')).toContainText("0 accounts");
});
