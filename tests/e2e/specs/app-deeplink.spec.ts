// The real desktop app signs in through a deep link: the browser's redirect to o365auth://auth
// reaches the running app the way the desktop delivers it (`gio open` → a second app process →
// D-Bus single instance → the first app), which completes the pending sign-in. A forged state
// and a replayed link are refused. The app's own IPC socket is the test's window into it.
import { expect, test } from "@playwright/test";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { IpcClient } from "../support/ipc";
import { bin } from "../support/paths";
import { start, type Spawned } from "../support/processes";

const run = promisify(execFile);

let app: Spawned;
let client: IpcClient;
let home: string;
let env: NodeJS.ProcessEnv;

async function waitFor<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test.beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), "o365-auth-deeplink-"));
  const runtime = path.join(home, "run");
  mkdirSync(runtime, { mode: 0o700 });
  env = {
    HOME: home,
    XDG_DATA_HOME: path.join(home, "data"),
    XDG_CONFIG_HOME: path.join(home, "config"),
    XDG_RUNTIME_DIR: runtime,
    RUST_LOG: "info,o365_auth_app=debug",
  };
  app = start(bin("o365-auth-app"), [], env);
  await app.waitFor(/token service started/);
  client = await waitFor("the app's IPC socket", () => IpcClient.connect(path.join(runtime, "o365-auth", "ipc.sock")));
});

test.afterAll(async () => {
  client?.close();
  await app?.kill();
});

test("the window talks to the in-process token service", async () => {
  // The page asks the service for its status and accounts as soon as it loads.
  await app.waitFor(/window call method=status/);
  const status = await client.ok<{ version: string; pid: number }>("status");
  expect(status.pid).toBe(app.child.pid);
});

test("a deep link completes a pending sign-in; a forged or replayed one is refused", async ({ page }) => {
  const sandbox = await client.ok<{ running: boolean; base_url: string; demo_username: string; demo_password: string }>(
    "sandbox.start",
  );
  expect(sandbox.running).toBe(true);
  await client.ok("apps.update", { name: "sandbox", redirect: "deep_link" });
  const challenge = await client.ok<{ login: string; url: string }>("login.start", { method: "browser" });
  expect(new URL(challenge.url).searchParams.get("redirect_uri")).toBe("o365auth://auth");

  // The browser leg: Chromium plays the person; the emulator answers with a redirect to the
  // custom scheme, which a headless browser cannot follow, so the test reads it off the wire.
  const redirect = new Promise<string>((resolve) => {
    page.on("response", (response) => {
      const location = response.headers()["location"];
      if (location?.startsWith("o365auth://")) resolve(location);
    });
  });
  await page.goto(challenge.url);
  await page.fill("#username", sandbox.demo_username);
  await page.fill("#password", sandbox.demo_password);
  await page.click("#signin");
  const consent = page.locator("#consent-accept");
  const first = await Promise.race([
    redirect.then(() => "redirect"),
    consent.waitFor({ timeout: 15_000 }).then(() => "consent"),
  ]);
  if (first === "consent") await consent.click();
  const deepLink = await redirect;
  const link = new URL(deepLink);
  expect(link.searchParams.get("code")).toBeTruthy();

  // A forged state first: the pending sign-in stays and the forged link changes nothing.
  const forged = new URL(deepLink);
  forged.searchParams.set("state", "forged-state");
  await run("gio", ["open", forged.toString()], { env: { ...process.env, ...env } });
  await app.waitFor(/a deep link was refused.*state_mismatch|code=state_mismatch.*a deep link was refused/);

  await run("gio", ["open", deepLink], { env: { ...process.env, ...env } });
  await app.waitFor(/a deep link completed a sign-in/);
  const account = await client.ok<{ username: string; status: string }>("login.wait", {
    login: challenge.login,
    timeout_s: 30,
  });
  expect(account.username).toBe(sandbox.demo_username);
  const accounts = await client.ok<Array<{ username: string; status: string }>>("accounts.list");
  expect(accounts.map((entry) => entry.username)).toEqual([sandbox.demo_username]);
  const token = await client.ok<{ access_token: string }>("token.get", {});
  expect(token.access_token.split(".")).toHaveLength(3);

  // The same link again: its state was used up.
  const refusalsBefore = (app.output().match(/a deep link was refused/g) ?? []).length;
  await run("gio", ["open", deepLink], { env: { ...process.env, ...env } });
  await waitFor("the replay's refusal", async () =>
    (app.output().match(/a deep link was refused/g) ?? []).length > refusalsBefore ? true : undefined,
  );
  // Nothing the app logged carries the authorization code.
  expect(app.output()).not.toContain(link.searchParams.get("code") ?? "no code");
});

test("start at login writes an autostart entry that starts the app hidden, and off removes it", async () => {
  const directories = [path.join(home, "config", "autostart"), path.join(home, ".config", "autostart")];
  const entries = (): string[] =>
    directories.flatMap((directory) =>
      existsSync(directory)
        ? readdirSync(directory)
            .filter((name) => name.endsWith(".desktop"))
            .map((name) => readFileSync(path.join(directory, name), "utf8"))
        : [],
    );
  expect(entries()).toEqual([]);
  await client.ok("settings.set", { start_at_login: true });
  const written = await waitFor("the autostart entry", async () => {
    const found = entries();
    return found.length > 0 ? found : undefined;
  });
  expect(written[0]).toContain("--hidden");
  expect(written[0]).toContain(bin("o365-auth-app"));
  await client.ok("settings.set", { start_at_login: false });
  await waitFor("the entry removed", async () => (entries().length === 0 ? true : undefined));
});
