// The real app window driven through WebDriver (tauri-driver + Debian's WebKitWebDriver): the
// page in the window talks to the token service in the app, starts the sandbox, and a device
// code sign-in finished on the emulator's pages by a real browser shows the account there.
import { expect, test } from "@playwright/test";
import { type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";
import { bin, screenshotsDir } from "../support/paths";
import { WebDriver, startTauriDriver } from "../support/webdriver";

const PORT = 4444;
let driver: ChildProcess;
let window: WebDriver;

test.beforeAll(async () => {
  const home = mkdtempSync(path.join(tmpdir(), "o365-auth-window-"));
  const runtime = path.join(home, "run");
  mkdirSync(runtime, { mode: 0o700 });
  const cargoHome = process.env.CARGO_HOME ?? path.join(homedir(), ".cargo");
  driver = startTauriDriver(path.join(cargoHome, "bin", "tauri-driver"), PORT, {
    HOME: home,
    XDG_DATA_HOME: path.join(home, "data"),
    XDG_CONFIG_HOME: path.join(home, "config"),
    XDG_RUNTIME_DIR: runtime,
  });
  window = await WebDriver.open(PORT, bin("o365-auth-app"));
});

test.afterAll(async () => {
  await window?.close();
  driver?.kill();
});

test("the window's page reaches the app's token service and signs in by device code", async ({ page }) => {
  expect(await window.text('[data-testid="backend-kind"]')).toBe("Desktop app");
  expect(await window.text('[data-testid="backend-version"]')).toMatch(/^o365-auth \d+\.\d+\.\d+/);

  await window.click('[data-testid="sandbox-start"]');
  await window.find('[data-testid="sandbox-state"][data-running="true"]', 30_000);
  const username = await window.text('[data-testid="sandbox-user"]');
  const password = await window.text('[data-testid="sandbox-password"]');
  expect(username).toContain("@sandbox.onmicrosoft.com");

  await window.click('[data-testid="nav-signin"]');
  await window.click('[data-testid="signin-method-device_code"]');
  await window.click('[data-testid="signin-start"]');
  const userCode = await window.text('[data-testid="device-user-code"]');
  const verificationUri = await window.text('[data-testid="device-verification-uri"]');
  expect(userCode).toMatch(/^[A-Z0-9-]{6,}$/);

  // The person, in their browser, on the emulator's device page.
  await page.goto(verificationUri);
  await page.fill("#user-code", userCode);
  await page.click("#device-continue");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("#signin");
  const consent = page.locator("#consent-accept");
  if (await consent.isVisible({ timeout: 5_000 }).catch(() => false)) await consent.click();

  expect(await window.text('[data-testid="signin-done-account"]')).toContain(username);
  await window.click('[data-testid="signin-go-accounts"]');
  const status = await window.find(`[data-testid="account-card"][data-account="sandbox/${username}"]`);
  expect(status).toBeTruthy();
  mkdirSync(screenshotsDir, { recursive: true });
  writeFileSync(path.join(screenshotsDir, "app-window-accounts.png"), await window.screenshot());
});
