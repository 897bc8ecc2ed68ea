// The real desktop app binary under Xvfb and a private D-Bus session: its window opens and
// renders, its tray icon registers with the panel, and the tray menu works.
import { expect, test } from "@playwright/test";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { bin, screenshotsDir } from "../support/paths";
import { start, type Spawned } from "../support/processes";
import { TrayWatcher, type MenuItem } from "../support/tray-watcher";

const run = promisify(execFile);

async function poll<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function visibleWindow(title: string): Promise<string> {
  const { stdout } = await run("xdotool", ["search", "--onlyvisible", "--name", `^${title}$`]);
  const id = stdout.trim().split("\n")[0];
  if (!id) throw new Error("no window");
  return id;
}

function item(menu: MenuItem[], label: string): MenuItem {
  const found = menu.find((entry) => entry.label.replaceAll("_", "") === label);
  if (!found) throw new Error(`no "${label}" in the tray menu: ${JSON.stringify(menu)}`);
  return found;
}

let watcher: TrayWatcher;
let app: Spawned;

test.beforeAll(async () => {
  watcher = await TrayWatcher.start();
  const home = mkdtempSync(path.join(tmpdir(), "o365-auth-app-"));
  app = start(bin("o365-auth-app"), [], {
    HOME: home,
    XDG_DATA_HOME: path.join(home, "data"),
    XDG_CONFIG_HOME: path.join(home, "config"),
    RUST_LOG: "info",
  });
});

test.afterAll(async () => {
  await app?.kill();
  watcher?.stop();
});

test("the window opens and renders the UI", async () => {
  const windowId = await poll("the app window", () => visibleWindow("o365-auth"));
  mkdirSync(screenshotsDir, { recursive: true });
  const file = path.join(screenshotsDir, "app-window.png");
  // The page needs a moment to paint after the window maps; a blank window has one colour.
  const colours = await poll("a painted window", async () => {
    await run("import", ["-window", windowId, file]);
    const { stdout } = await run("identify", ["-format", "%k", file]);
    const count = Number(stdout);
    return count > 50 ? count : undefined;
  });
  expect(colours).toBeGreaterThan(50);
});

test("the tray icon registers with the panel and offers its menu", async () => {
  const tray = await watcher.nextItem();
  expect(tray.busName).toMatch(/^:/);
  expect(await tray.property("Status")).toBe("Active");
  const menu = await poll("the tray menu", async () => {
    const entries = await tray.menu();
    return entries.some((entry) => entry.label.includes("Quit")) ? entries : undefined;
  });
  const labels = menu.filter((entry) => entry.type !== "separator").map((entry) => entry.label.replaceAll("_", ""));
  expect(labels).toEqual(["Open o365-auth", "Start the sandbox", "Quit"]);
});

test("the tray menu starts the sandbox, which answers on loopback", async () => {
  const tray = await watcher.nextItem();
  await tray.click(item(await tray.menu(), "Start the sandbox").id);
  const [, baseUrl = ""] = await app.waitFor(/sandbox started from the tray.*?(http:\/\/127\.0\.0\.1:\d+)/);
  const discovery = await fetch(`${baseUrl}/organizations/v2.0/.well-known/openid-configuration`);
  expect(discovery.status).toBe(200);
  const document = (await discovery.json()) as { token_endpoint: string };
  expect(document.token_endpoint.startsWith(baseUrl)).toBe(true);
});

test("Quit in the tray menu ends the app cleanly and stops the sandbox", async () => {
  const tray = await watcher.nextItem();
  const sandboxUrl = app.output().match(/http:\/\/127\.0\.0\.1:\d+/)?.[0];
  await tray.click(item(await tray.menu(), "Quit").id);
  expect(await app.exited(20_000)).toBe(0);
  if (sandboxUrl) await expect(fetch(sandboxUrl)).rejects.toThrow();
});
