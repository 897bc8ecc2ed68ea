// The web UI's backend for the ui-*.spec.ts files: the real headless daemon with a fresh data
// directory (store unlocked by a passphrase file, so no keyring is needed), its HTTP API and
// the built UI on a loopback port, found through the `web.json` it writes beside its socket.
import { test as base, expect, type Locator, type Page } from "@playwright/test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { IpcClient } from "./ipc";
import { bin, repoRoot, screenshotsDir } from "./paths";
import { start, type Spawned } from "./processes";

export interface WebJson {
  address: string;
  secret: string;
  ui_url: string;
}

export interface Daemon {
  home: string;
  socket: string;
  logFile: string;
  web: WebJson;
  process: Spawned;
  /** A JSON-RPC client on the daemon's socket, to check what the UI did from the outside. */
  ipc(): Promise<IpcClient>;
  log(): string;
  /**
   * SIGTERM; resolves with the exit status, or the signal's name if a signal ended it
   * (rejects if it is still running after 15 s).
   */
  stop(): Promise<number | string>;
}

async function poll<T>(what: string, attempt: () => T | undefined, timeoutMs: number, process: Spawned): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = attempt();
    if (value !== undefined) return value;
    if (process.child.exitCode !== null || process.child.signalCode !== null) {
      throw new Error(`the daemon exited (${process.child.exitCode ?? process.child.signalCode}) before ${what}:\n${process.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${process.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts `o365-auth-daemon --http 127.0.0.1:0` on a fresh directory and waits for its web.json. */
export async function startDaemon(): Promise<Daemon> {
  const home = mkdtempSync(path.join(tmpdir(), "o365-auth-ui-"));
  const runtime = path.join(home, "run");
  mkdirSync(runtime, { mode: 0o700 });
  const socket = path.join(runtime, "o365-auth", "ipc.sock");
  const passphrase = path.join(home, "passphrase");
  writeFileSync(passphrase, "ui-e2e passphrase\n", { mode: 0o600 });
  const logFile = path.join(home, "daemon.log");
  const process = start(
    bin("o365-auth-daemon"),
    [
      "--socket", socket,
      "--store", path.join(home, "store.sqlite3"),
      "--passphrase-file", passphrase,
      "--http", "127.0.0.1:0",
      "--ui-dir", path.join(repoRoot, "ui/dist"),
      "--log-file", logFile,
    ],
    { HOME: home, XDG_RUNTIME_DIR: runtime, XDG_DATA_HOME: path.join(home, "data"), RUST_LOG: "info" },
  );
  const webFile = path.join(path.dirname(socket), "web.json");
  const web = await poll(
    "web.json",
    () => {
      if (!existsSync(webFile)) return undefined;
      try {
        return JSON.parse(readFileSync(webFile, "utf8")) as WebJson;
      } catch {
        return undefined; // written but not complete yet
      }
    },
    30_000,
    process,
  );
  const clients: IpcClient[] = [];
  return {
    home,
    socket,
    logFile,
    web,
    process,
    async ipc() {
      const client = await IpcClient.connect(socket);
      clients.push(client);
      return client;
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    async stop() {
      for (const client of clients.splice(0)) client.close();
      const child = process.child;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const code = await process.exited(15_000);
      return code ?? String(child.signalCode);
    },
  };
}

interface Fixtures {
  daemon: Daemon;
  /** The UI opened from the daemon's ui_url, clipboard allowed. */
  ui: Page;
}

/**
 * A fresh daemon for each test (stopped with SIGTERM after it, and checked to exit cleanly),
 * and the page opened on its UI.
 */
export const test = base.extend<Fixtures>({
  daemon: async ({ context }, use, testInfo) => {
    const daemon = await startDaemon();
    let failed = false;
    try {
      await use(daemon);
    } finally {
      // The pages go first, so that the daemon's stop is about the daemon, not about a page
      // that still waits on it (ui-errors.spec.ts stops one under a waiting page on purpose).
      for (const open of context.pages()) await open.close().catch(() => undefined);
      const code = await daemon.stop().catch(async (error: unknown) => {
        failed = true;
        // Not left behind: this test fails, the next ones get a daemon of their own.
        daemon.process.child.kill("SIGKILL");
        await daemon.process.exited(5_000).catch(() => undefined);
        return String(error);
      });
      const log = daemon.log();
      if (testInfo.status !== testInfo.expectedStatus || failed || code !== 0) {
        await testInfo.attach("daemon.log", { body: log, contentType: "text/plain" });
      }
      rmSync(daemon.home, { recursive: true, force: true });
      expect(code, `the daemon's exit after SIGTERM; log:\n${log.slice(-4000)}`).toBe(0);
    }
  },
  ui: async ({ page, context, daemon }, use) => {
    const origin = `http://${daemon.web.address}`;
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
    await page.goto(daemon.web.ui_url);
    await expect(page.getByTestId("app")).toBeVisible();
    await use(page);
  },
});

export { expect };

/**
 * A screenshot of everything on the page, as `ui-<name>.png` in the screenshots directory.
 * The UI scrolls inside its <main>, so the viewport is stretched to the content first.
 */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotsDir, { recursive: true });
  const viewport = page.viewportSize();
  const needed = await page
    .evaluate(() => {
      const main = document.querySelector("main");
      if (!main) return document.documentElement.scrollHeight;
      return document.documentElement.scrollHeight - main.clientHeight + main.scrollHeight;
    })
    .catch(() => undefined);
  const stretch = viewport && needed && needed > viewport.height;
  if (stretch) await page.setViewportSize({ width: viewport.width, height: Math.min(needed, 6000) });
  try {
    await page.screenshot({ path: path.join(screenshotsDir, `ui-${name}.png`), fullPage: true, animations: "disabled" });
  } finally {
    if (stretch) await page.setViewportSize(viewport);
  }
}

/** The texts of every element a locator matches, in page order. */
export async function texts(locator: Locator): Promise<string[]> {
  return (await locator.allInnerTexts()).map((text) => text.trim());
}

/** Starts the sandbox from the first-run screen and returns the emulator's base URL. */
export async function startSandboxFromWelcome(page: Page): Promise<string> {
  await expect(page.getByTestId("welcome")).toBeVisible();
  await expect(page.getByTestId("sandbox-state")).toHaveAttribute("data-running", "false");
  await page.getByTestId("sandbox-start").click();
  await expect(page.getByTestId("sandbox-state")).toHaveAttribute("data-running", "true");
  const baseUrl = (await page.getByTestId("sandbox-url").innerText()).trim();
  expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  return baseUrl;
}

/** The emulator's request counters (crates/entra-emulator: GET /_emulator/stats). */
export async function emulatorGrants(baseUrl: string): Promise<Record<string, number>> {
  const response = await fetch(`${baseUrl}/_emulator/stats`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { grant_types: Record<string, number> }).grant_types;
}

export const SANDBOX = {
  tenantId: "5f1c0c6e-9b8a-4d3e-8a52-53a4e1b0d7c2",
  domain: "sandbox.onmicrosoft.com",
  publicClientId: "3b0e8f4c-6a7d-4c1e-9f2b-7d5a6c8e9f01",
  confidentialClientId: "8c2d4e6f-1a3b-4c5d-8e7f-9a0b1c2d3e4f",
  clientSecret: "sandbox-client-secret",
  password: "sandbox-demo",
  demo: "demo@sandbox.onmicrosoft.com",
  mfa: "mfa@sandbox.onmicrosoft.com",
  mfaCode: "123456",
  adele: "adele@sandbox.onmicrosoft.com",
  alex: "alex@sandbox.onmicrosoft.com",
  megan: "megan@sandbox.onmicrosoft.com",
} as const;

export interface AppFormInput {
  name: string;
  clientId: string;
  tenant: string;
  /** A custom authority URL (the sandbox's base URL). */
  authority: string;
  flow: "public" | "authorization" | "credentials" | "password" | "device_code";
  secret?: string;
  /** Helpers to tick; the form starts with `basic` ticked. */
  helpers?: string[];
  /** Typed into "Other scopes". */
  free?: string;
}

/** Fills the app form (already open) and saves it; returns once the list shows the app. */
export async function addAppThroughForm(page: Page, app: AppFormInput): Promise<void> {
  const form = page.getByTestId("app-form");
  await expect(form).toBeVisible();
  await form.getByTestId("app-name").fill(app.name);
  await form.getByTestId("app-client-id").fill(app.clientId);
  await form.getByTestId("app-tenant").fill(app.tenant);
  await form.getByTestId("app-cloud").selectOption("custom");
  await form.getByTestId("app-custom-url").fill(app.authority);
  await form.getByTestId(`app-flow-${app.flow}`).check();
  if (app.secret !== undefined) {
    await form.getByTestId("app-credential-secret").check();
    await form.getByTestId("app-secret").fill(app.secret);
  }
  await expect(form.getByTestId("scope-helpers")).toBeVisible();
  for (const helper of app.helpers ?? []) await form.getByTestId(`scope-helper-${helper}`).check();
  if (app.free !== undefined) await form.getByTestId("scope-free").fill(app.free);
  await form.getByTestId("app-save").click();
  await expect(page.getByTestId("app-form")).toHaveCount(0);
  await expect(page.locator(`[data-testid="app-row"][data-app="${app.name}"]`)).toBeVisible();
}

/** Which page the daemon's loopback listener answered the redirect with. */
export type LoopbackPage = "signed-in" | "not-signed-in" | "refused";

/**
 * Plays the person on the emulator's pages in the popup, whichever it shows in turn (an SSO
 * session skips the password page, a given consent the consent page), up to the page the
 * daemon's loopback listener answers with, which it returns.
 */
export async function signInOnEmulator(
  popup: Page,
  { username, password, mfaCode, consent = "accept", screenshots }: {
    username: string;
    password: string;
    mfaCode?: string;
    consent?: "accept" | "cancel";
    /** Prefix for screenshots of the emulator's pages (ui-<prefix>-emulator-<page>.png). */
    screenshots?: string;
  },
): Promise<LoopbackPage> {
  const signInPage = popup.locator("#password");
  const mfaPage = popup.locator("#mfa-code");
  const consentPage = popup.locator("#consent-scopes");
  const errorPage = popup.locator("#error-code");
  // crates/core/src/flows/loopback.rs
  const loopbackPage = popup.locator("#signin-complete, #signin-not-done, #signin-refused");
  for (let step = 0; step < 5; step++) {
    await expect(signInPage.or(mfaPage).or(consentPage).or(errorPage).or(loopbackPage)).toBeVisible();
    if (await loopbackPage.isVisible()) {
      expect(popup.url()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?/);
      const id = await loopbackPage.getAttribute("id");
      return id === "signin-complete" ? "signed-in" : id === "signin-not-done" ? "not-signed-in" : "refused";
    }
    if (await errorPage.isVisible()) {
      throw new Error(`the emulator showed an error page: ${await popup.locator("body").innerText()}`);
    }
    if (await signInPage.isVisible()) {
      if ((await popup.locator("#username").inputValue()) !== username) await popup.fill("#username", username);
      await popup.fill("#password", password);
      if (screenshots) await shot(popup, `${screenshots}-emulator-sign-in`);
      await popup.click("#signin");
      await expect(signInPage).toHaveCount(0);
    } else if (await mfaPage.isVisible()) {
      if (mfaCode === undefined) throw new Error("the emulator asks for an MFA code, and the test has none");
      if (screenshots) await shot(popup, `${screenshots}-emulator-mfa`);
      await popup.fill("#mfa-code", mfaCode);
      await popup.click("#mfa-submit");
      await expect(mfaPage).toHaveCount(0);
    } else {
      if (screenshots) await shot(popup, `${screenshots}-emulator-consent`);
      await popup.click(consent === "accept" ? "#consent-accept" : "#consent-cancel");
      await expect(consentPage).toHaveCount(0);
    }
  }
  throw new Error(`the emulator's pages did not end at the loopback listener; at ${popup.url()}`);
}

/** Clicks the sign-in screen's start button and returns the popup the UI opens. */
export async function startBrowserSignIn(page: Page): Promise<Page> {
  const popupOpened = page.context().waitForEvent("page");
  await page.getByTestId("signin-start").click();
  return popupOpened;
}
