import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import SignInScreen from "./SignInScreen.svelte";
import { Session } from "../../lib/state/session.svelte";
import { FakeTransport, backendError, sampleAccount, sampleApp } from "../../lib/testing/fakeTransport";
import type { AppRegistration } from "../../lib/api";

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const AUTHORIZE = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?client_id=x&state=s";

/** A promise the test settles when it wants. */
function later<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

async function setup(options: { apps?: AppRegistration[]; initialApp?: string; initialLoginHint?: string } = {}) {
  const transport = new FakeTransport({ apps: options.apps ?? [sampleApp()] });
  const session = new Session(transport);
  await session.loadAll();
  const onaccounts = vi.fn();
  const onaddapp = vi.fn();
  render(SignInScreen, {
    session,
    initialApp: options.initialApp,
    initialLoginHint: options.initialLoginHint,
    onaccounts,
    onaddapp,
  });
  return { transport, session, onaccounts, onaddapp };
}

describe("signing in with the browser", () => {
  it("starts the login, opens the browser, waits, and shows who signed in", async () => {
    const { transport, session, onaccounts } = await setup();
    const waiting = later<unknown>();
    transport.on("login.start", () => ({ login: "L1", url: AUTHORIZE }));
    transport.on("login.wait", () => waiting.promise);
    await screen.findByTestId("scope-helper-basic");
    await fireEvent.input(screen.getByTestId("signin-login-hint"), { target: { value: "adele@contoso.com" } });
    await fireEvent.click(screen.getByTestId("signin-select-account"));
    await fireEvent.click(screen.getByTestId("signin-start"));

    expect(await screen.findByTestId("signin-progress")).toBeTruthy();
    expect(transport.callsTo("login.start")).toEqual([
      { app: "contoso", method: "browser", scopes: ["basic", "mailbox"], login_hint: "adele@contoso.com", prompt: "select_account" },
    ]);
    expect(transport.opened).toEqual([AUTHORIZE]);
    expect(screen.getByTestId("signin-url").getAttribute("href")).toBe(AUTHORIZE);
    expect(transport.callsTo("login.wait")).toEqual([{ login: "L1", timeout_s: 600 }]);

    await fireEvent.click(screen.getByTestId("signin-open-again"));
    expect(transport.opened).toHaveLength(2);

    waiting.resolve(sampleAccount());
    expect((await screen.findByTestId("signin-done-account")).textContent).toContain("Adele Vance");
    expect(session.toasts.items.at(-1)?.text).toBe("Signed in as Adele Vance.");
    await fireEvent.click(screen.getByTestId("signin-go-accounts"));
    expect(onaccounts).toHaveBeenCalledOnce();
  });

  it("waits again while the sign-in is pending", async () => {
    const { transport } = await setup();
    let waits = 0;
    transport.on("login.start", () => ({ login: "L2", url: AUTHORIZE }));
    transport.on("login.wait", () => {
      waits++;
      if (waits < 3) throw backendError("login_pending", "not yet");
      return sampleAccount();
    });
    await fireEvent.click(screen.getByTestId("signin-start"));
    expect(await screen.findByTestId("signin-done")).toBeTruthy();
    expect(waits).toBe(3);
  });

  it("cancels: login.cancel, then the wait's cancelled answer brings back the form", async () => {
    const { transport, session } = await setup();
    const waiting = later<unknown>();
    transport.on("login.start", () => ({ login: "L3", url: AUTHORIZE }));
    transport.on("login.wait", () => waiting.promise);
    transport.on("login.cancel", () => {
      waiting.reject(backendError("cancelled", "the sign-in was cancelled"));
      return { cancelled: true };
    });
    await fireEvent.click(screen.getByTestId("signin-start"));
    await fireEvent.click(await screen.findByTestId("signin-cancel"));
    expect(transport.callsTo("login.cancel")).toEqual([{ login: "L3" }]);
    expect(await screen.findByTestId("signin-start")).toBeTruthy();
    expect(screen.queryByTestId("signin-error")).toBeNull();
    expect(session.toasts.items.at(-1)?.text).toBe("Sign-in cancelled.");
  });

  it("explains a failed sign-in in plain words, with the AADSTS code", async () => {
    const { transport } = await setup();
    transport.on("login.start", () => ({ login: "L4", url: AUTHORIZE }));
    transport.on("login.wait", () => {
      throw backendError("app_misconfigured", "AADSTS50011: The redirect URI ... does not match", {
        aadsts: "AADSTS50011",
        correlation_id: "corr-1",
      });
    });
    await fireEvent.click(screen.getByTestId("signin-start"));
    const error = await screen.findByTestId("signin-error");
    expect(within(error).getByTestId("error-title").textContent).toBe("The redirect address is not registered");
    expect(within(error).getByTestId("error-aadsts").textContent).toBe("AADSTS50011");
    expect(within(error).getByTestId("error-correlation-id").textContent).toBe("corr-1");
    expect(screen.getByTestId("signin-start").textContent).toContain("Try again");
  });

  it("starts from the app and account it was sent with", async () => {
    const { transport } = await setup({
      apps: [sampleApp(), sampleApp({ name: "sandbox", default_scopes: ["basic"] })],
      initialApp: "sandbox",
      initialLoginHint: "demo@sandbox.onmicrosoft.com",
    });
    expect((screen.getByTestId("signin-app") as HTMLSelectElement).value).toBe("sandbox");
    expect((screen.getByTestId("signin-login-hint") as HTMLInputElement).value).toBe("demo@sandbox.onmicrosoft.com");
    transport.on("login.start", () => ({ login: "L5", url: AUTHORIZE }));
    transport.on("login.wait", () => sampleAccount({ app: "sandbox" }));
    await fireEvent.click(screen.getByTestId("signin-start"));
    await screen.findByTestId("signin-done");
    expect(transport.callsTo("login.start")[0]).toMatchObject({ app: "sandbox", login_hint: "demo@sandbox.onmicrosoft.com", scopes: ["basic"] });
  });
});

describe("signing in with a device code", () => {
  it("shows the code big with a copy button, where to enter it and how long it lasts", async () => {
    const { transport } = await setup();
    const waiting = later<unknown>();
    const expiresAt = Math.floor(Date.now() / 1000) + 900;
    transport.on("login.start", () => ({
      login: "D1",
      user_code: "ABCD-EFGH",
      verification_uri: "https://microsoft.com/devicelogin",
      message: "To sign in, use a web browser...",
      expires_at: expiresAt,
    }));
    transport.on("login.wait", () => waiting.promise);
    await fireEvent.click(screen.getByTestId("signin-method-device_code"));
    expect(screen.queryByTestId("signin-login-hint")).toBeNull();
    await fireEvent.click(screen.getByTestId("signin-start"));

    expect((await screen.findByTestId("device-user-code")).textContent).toBe("ABCD-EFGH");
    expect(transport.callsTo("login.start")[0]).toMatchObject({ method: "device_code" });
    expect(transport.callsTo("login.start")[0]?.login_hint).toBeUndefined();
    expect(screen.getByTestId("device-verification-uri").getAttribute("href")).toBe("https://microsoft.com/devicelogin");
    expect(screen.getByTestId("device-countdown").textContent).toMatch(/^1[45]:\d\d$/);
    expect(transport.opened).toEqual([]);

    await fireEvent.click(screen.getByTestId("device-copy-code"));
    expect(transport.copied).toEqual([{ text: "ABCD-EFGH", clearAfterS: null }]);
    await fireEvent.click(screen.getByTestId("device-open"));
    expect(transport.opened).toEqual(["https://microsoft.com/devicelogin"]);

    waiting.resolve(sampleAccount());
    expect(await screen.findByTestId("signin-done")).toBeTruthy();
  });

  it("counts down every second and says when the code has expired", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "Date"] });
    vi.setSystemTime(new Date(1_800_000_000_000));
    const { transport } = await setup();
    const expiresAt = Math.floor(Date.now() / 1000) + 3;
    transport.on("login.start", () => ({ login: "D2", user_code: "WXYZ", verification_uri: "https://microsoft.com/devicelogin", expires_at: expiresAt }));
    transport.on("login.wait", () => new Promise(() => undefined));
    await fireEvent.click(screen.getByTestId("signin-method-device_code"));
    await fireEvent.click(screen.getByTestId("signin-start"));
    const countdown = await screen.findByTestId("device-countdown");
    expect(countdown.textContent).toBe("0:03");
    await vi.advanceTimersByTimeAsync(1000);
    expect(screen.getByTestId("device-countdown").textContent).toBe("0:02");
    await vi.advanceTimersByTimeAsync(2000);
    expect(await screen.findByTestId("device-expired")).toBeTruthy();
  });
});

describe("signing in by pasting the address", () => {
  it("opens the page, checks what is pasted, and completes with it", async () => {
    const { transport } = await setup();
    transport.on("login.start", () => ({ login: "C1", url: AUTHORIZE }));
    transport.on("login.complete", () => sampleAccount());
    await fireEvent.click(screen.getByTestId("signin-method-console"));
    await fireEvent.click(screen.getByTestId("signin-start"));
    const field = (await screen.findByTestId("console-redirected-url")) as HTMLInputElement;
    expect(transport.opened).toEqual([AUTHORIZE]);
    expect(transport.callsTo("login.wait")).toEqual([]);

    await fireEvent.input(field, { target: { value: "https://login.microsoftonline.com/common/oauth2/nativeclient" } });
    await fireEvent.click(screen.getByTestId("console-submit"));
    expect(screen.getByTestId("console-redirected-url-error").textContent).toMatch(/no sign-in answer/);
    expect(transport.callsTo("login.complete")).toEqual([]);

    const answer = "https://login.microsoftonline.com/common/oauth2/nativeclient?code=0.AAA&state=s";
    await fireEvent.input(field, { target: { value: answer } });
    await fireEvent.click(screen.getByTestId("console-submit"));
    await waitFor(() => expect(transport.callsTo("login.complete")).toEqual([{ login: "C1", redirected_url: answer }]));
    expect(await screen.findByTestId("signin-done")).toBeTruthy();
  });

  it("explains an answer from another sign-in", async () => {
    const { transport } = await setup();
    transport.on("login.start", () => ({ login: "C2", url: AUTHORIZE }));
    transport.on("login.complete", () => {
      throw backendError("state_mismatch", "the state does not match");
    });
    await fireEvent.click(screen.getByTestId("signin-method-console"));
    await fireEvent.click(screen.getByTestId("signin-start"));
    await fireEvent.input(await screen.findByTestId("console-redirected-url"), { target: { value: "https://x.example/?code=1&state=old" } });
    await fireEvent.click(screen.getByTestId("console-submit"));
    expect((await screen.findByTestId("error-title")).textContent).toBe("That address belongs to another sign-in");
  });

  it("cancels with login.cancel", async () => {
    const { transport } = await setup();
    transport.on("login.start", () => ({ login: "C3", url: AUTHORIZE }));
    transport.on("login.cancel", () => ({ cancelled: true }));
    await fireEvent.click(screen.getByTestId("signin-method-console"));
    await fireEvent.click(screen.getByTestId("signin-start"));
    await fireEvent.click(await screen.findByTestId("signin-cancel"));
    await waitFor(() => expect(transport.callsTo("login.cancel")).toEqual([{ login: "C3" }]));
    expect(await screen.findByTestId("signin-start")).toBeTruthy();
  });
});

describe("the ways each flow allows", () => {
  it("offers username and password for a password-flow app, and forgets the password after", async () => {
    const { transport } = await setup({ apps: [sampleApp({ name: "legacy", flow: "password", default_scopes: ["basic"] })] });
    transport.on("login.password", () => sampleAccount({ app: "legacy" }));
    expect(screen.queryByTestId("signin-method-browser")).toBeNull();
    expect((screen.getByTestId("signin-method-password") as HTMLInputElement).checked).toBe(true);
    expect((screen.getByTestId("signin-start") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("signin-username"), { target: { value: "adele@contoso.com" } });
    await fireEvent.input(screen.getByTestId("signin-password"), { target: { value: "hunter2" } });
    await fireEvent.click(screen.getByTestId("signin-start"));
    await screen.findByTestId("signin-done");
    expect(transport.callsTo("login.password")).toEqual([
      { app: "legacy", username: "adele@contoso.com", password: "hunter2", scopes: ["basic"] },
    ]);
    expect(transport.callsTo("login.start")).toEqual([]);
    expect(document.body.innerHTML).not.toContain("hunter2");
  });

  it("signs in as the app itself for client credentials", async () => {
    const { transport } = await setup({ apps: [sampleApp({ name: "daemon", flow: "credentials", has_client_secret: true })] });
    transport.on("login.start", () => ({ login: "A1" }));
    transport.on("login.wait", () => sampleAccount({ app: "daemon", username: "daemon", display_name: null }));
    expect(screen.getAllByRole("radio").map((radio) => radio.getAttribute("data-testid"))).toEqual(["signin-method-app"]);
    await fireEvent.click(screen.getByTestId("signin-start"));
    expect((await screen.findByTestId("signin-done-account")).textContent).toContain("daemon");
    expect(transport.callsTo("login.start")[0]).toMatchObject({ app: "daemon", method: "app" });
    expect(transport.opened).toEqual([]);
  });

  it("sends people without an app to add one", async () => {
    const { onaddapp } = await setup({ apps: [] });
    await fireEvent.click(within(screen.getByTestId("signin-no-apps")).getByRole("button"));
    expect(onaddapp).toHaveBeenCalledOnce();
  });
});
