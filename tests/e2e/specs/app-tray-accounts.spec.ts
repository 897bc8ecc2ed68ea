// The real desktop app's tray with a signed-in account: the account's submenu copies its token
// (and clears the clipboard after the set time), an account that must sign in again turns the
// icon to the attention one and the desktop is notified. The test plays the panel (tray
// watcher, as in app-smoke) and reads the notification server's traffic with dbus-monitor; the
// app's IPC socket signs the account in against the sandbox the app runs.
import { expect, test } from "@playwright/test";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { IpcClient } from "../support/ipc";
import { bin } from "../support/paths";
import { start, type Spawned } from "../support/processes";
import { TrayWatcher, type MenuItem, type TrayItem } from "../support/tray-watcher";

const run = promisify(execFile);

interface SandboxStatus {
  base_url: string;
  app: string;
  demo_username: string;
  demo_password: string;
}

let watcher: TrayWatcher;
let app: Spawned;
let monitor: Spawned;
let client: IpcClient;
let tray: TrayItem;
let sandbox: SandboxStatus;

async function poll<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const plain = (label: string): string => label.replaceAll("_", "");

/** The account's submenu label and the items under it, once the menu shows it with `status`. */
async function accountMenu(status: string): Promise<{ label: string; items: MenuItem[] }> {
  return poll(`the tray menu to show ${sandbox.demo_username} as "${status}"`, async () => {
    const menu = await tray.menu();
    const at = menu.findIndex((entry) => plain(entry.label) === `${sandbox.demo_username} — ${status}`);
    if (at < 0) return undefined;
    return { label: plain(menu[at]!.label), items: menu.slice(at + 1, at + 4) };
  });
}

function itemNamed(items: MenuItem[], label: string): MenuItem {
  const found = items.find((entry) => plain(entry.label) === label);
  if (!found) throw new Error(`no "${label}" among ${JSON.stringify(items)}`);
  return found;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

async function clipboard(): Promise<string> {
  const { stdout } = await run("xclip", ["-o", "-selection", "clipboard"]);
  return stdout;
}

test.beforeAll(async ({ browser }) => {
  watcher = await TrayWatcher.start();
  monitor = start("dbus-monitor", ["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"]);
  const home = mkdtempSync(path.join(tmpdir(), "o365-auth-tray-"));
  const runtime = path.join(home, "run");
  mkdirSync(runtime, { mode: 0o700 });
  app = start(bin("o365-auth-app"), [], {
    HOME: home,
    XDG_DATA_HOME: path.join(home, "data"),
    XDG_CONFIG_HOME: path.join(home, "config"),
    XDG_RUNTIME_DIR: runtime,
    RUST_LOG: "info",
  });
  await app.waitFor(/token service started/);
  client = await poll("the app's IPC socket", () => IpcClient.connect(path.join(runtime, "o365-auth", "ipc.sock")));
  tray = await watcher.nextItem();
  sandbox = await client.ok<SandboxStatus>("sandbox.start");
  // A browser sign-in (the sandbox app asks for consent, which the password flow cannot give):
  // Chromium plays the person on the emulator's pages, the redirect comes back on loopback.
  const challenge = await client.ok<{ login: string; url: string }>("login.start", { method: "browser" });
  const page = await browser.newPage();
  await page.goto(challenge.url);
  await page.fill("#username", sandbox.demo_username);
  await page.fill("#password", sandbox.demo_password);
  await page.click("#signin");
  await page.click("#consent-accept");
  await client.ok("login.wait", { login: challenge.login, timeout_s: 30 });
  await page.close();
});

test.afterAll(async () => {
  client?.close();
  await app?.kill();
  await monitor?.kill();
  watcher?.stop();
});

test("a signed-in account's tray items copy its token and its header, then clear the clipboard", async () => {
  const { items } = await accountMenu("fresh");
  expect(items.map((entry) => plain(entry.label))).toEqual(["Copy access token", "Copy Authorization header", "Refresh now"]);
  const token = (await client.ok<{ access_token: string }>("token.get", { account: sandbox.demo_username })).access_token;
  expect(token.split(".")).toHaveLength(3);

  await client.ok("settings.set", { clipboard_clear_s: 2 });
  await tray.click(itemNamed(items, "Copy access token").id);
  await poll("the token on the clipboard", async () => ((await clipboard()) === token ? true : undefined));
  // Cleared once the time is up, not before: the token is still there a moment later.
  expect(await clipboard()).toBe(token);
  await poll("the clipboard to be cleared", async () => ((await clipboard()) === "" ? true : undefined), 10_000);

  await tray.click(itemNamed(items, "Copy Authorization header").id);
  await poll("the header on the clipboard", async () =>
    (await clipboard()) === `Authorization: Bearer ${token}` ? true : undefined,
  );

  // This test's own token.get came from a program the app had not seen: the desktop hears of
  // it. The tray's copies are the person's own doing: not announced.
  await monitor.waitFor(new RegExp(`string "${escapeRegExp(process.execPath)} asked for [^"]*'s token\\."`), 15_000);
  expect(monitor.output()).not.toContain("o365-auth-app asked for");
});

test("an account that must sign in again turns the tray icon and notifies the desktop", async () => {
  await accountMenu("fresh");
  const iconBefore = String(await tray.property("IconName"));
  const pixelsBefore = readFileSync(iconBefore);

  // The directory ends the sign-in (as an admin's "revoke sessions" does); the next refresh
  // learns it.
  const revoked = await fetch(
    `${sandbox.base_url}/_emulator/users/${encodeURIComponent(sandbox.demo_username)}/revoke`,
    { method: "POST" },
  );
  expect(revoked.ok).toBe(true);
  const refused = await client.call("token.refresh", { account: sandbox.demo_username });
  expect((refused.error as { data?: { code?: string } } | undefined)?.data?.code).toBe("needs_sign_in");

  await accountMenu("sign in again");
  const iconAfter = await poll("a new tray icon", async () => {
    const name = String(await tray.property("IconName"));
    return name !== iconBefore ? name : undefined;
  });
  expect(readFileSync(iconAfter).equals(pixelsBefore)).toBe(false);

  const [, body = ""] = await monitor.waitFor(
    new RegExp(`string "Sign in again: [^"]*${escapeRegExp(sandbox.demo_username)}"\\s+string "([^"]*)"`),
    15_000,
  );
  expect(body).toBe("Its sign-in has ended.");
});
