import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "./App.svelte";
import { FakeTransport, sampleAccount, sampleApp } from "./lib/testing/fakeTransport";
import { missingTransport } from "./lib/transport";

beforeEach(() => {
  window.location.hash = "";
});
afterEach(cleanup);

describe("App", () => {
  it("greets newcomers with the guide and the sandbox", async () => {
    render(App, { transport: new FakeTransport() });
    expect(await screen.findByTestId("welcome")).toBeTruthy();
    expect(screen.getByTestId("sandbox-start")).toBeTruthy();
  });

  it("shows the accounts to people with apps, and the backend in the status line", async () => {
    render(App, { transport: new FakeTransport({ apps: [sampleApp()], accounts: [sampleAccount()] }) });
    expect(await screen.findByTestId("accounts-screen")).toBeTruthy();
    expect(screen.getByTestId("backend-kind").textContent).toBe("Desktop app");
    expect((await screen.findByTestId("backend-version")).textContent).toBe("o365-auth 0.1.0");
    expect(screen.getByTestId("status-line").textContent).toContain("1 account");
    expect(screen.getByTestId("nav-accounts").getAttribute("aria-current")).toBe("page");
  });

  it("moves between screens by address, with the keyboard-reachable tabs", async () => {
    render(App, { transport: new FakeTransport({ apps: [sampleApp()] }) });
    await screen.findByTestId("accounts-screen");
    window.location.hash = "#/settings";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    expect(await screen.findByTestId("settings-screen")).toBeTruthy();
    expect(screen.getByTestId("nav-settings").getAttribute("aria-current")).toBe("page");
    expect(screen.getByTestId("nav-activity").getAttribute("href")).toBe("#/activity");

    await fireEvent.click(screen.getByTestId("nav-accounts"));
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    await fireEvent.click(await screen.findByTestId("accounts-sign-in"));
    expect(await screen.findByTestId("signin-screen")).toBeTruthy();
    expect(window.location.hash).toBe("#/signin");
  });

  it("sends a person to sign in again with the account filled in", async () => {
    const account = sampleAccount({ status: "needs_sign_in", last_error_code: "needs_sign_in" });
    render(App, { transport: new FakeTransport({ apps: [sampleApp()], accounts: [account] }) });
    await fireEvent.click(await screen.findByTestId("account-sign-in-again"));
    expect(window.location.hash).toBe("#/signin?app=contoso&login_hint=adele%40contoso.com");
    expect(((await screen.findByTestId("signin-login-hint")) as HTMLInputElement).value).toBe("adele@contoso.com");
    expect(screen.getByTestId("nav-accounts").textContent).toContain("1");
  });

  it("warns about accounts that need attention as it happens", async () => {
    const transport = new FakeTransport({ apps: [sampleApp()], accounts: [sampleAccount()] });
    render(App, { transport });
    await screen.findByTestId("accounts-screen");
    transport.state.accounts = [sampleAccount({ status: "needs_sign_in" })];
    transport.emit({ event: "needs_attention", account: "contoso/adele@contoso.com", code: "needs_sign_in" });
    const toast = await screen.findByTestId("toast");
    expect(toast.dataset.kind).toBe("warning");
    expect(toast.textContent).toContain("contoso/adele@contoso.com — Sign in again. See Accounts.");
    expect(screen.getByTestId("toasts").getAttribute("aria-live")).toBe("polite");
    await waitFor(() => expect(screen.getByTestId("account-status").dataset.status).toBe("needs_sign_in"));
    await fireEvent.click(screen.getByTestId("toast-dismiss"));
    expect(screen.queryByTestId("toast")).toBeNull();
  });

  it("says plainly when there is no backend", async () => {
    render(App, { transport: missingTransport() });
    expect(await screen.findByTestId("no-backend")).toBeTruthy();
    expect(screen.getByTestId("backend-kind").textContent).toBe("No backend");
    expect(await screen.findByTestId("welcome")).toBeTruthy();
  });
});

describe("the first screen", () => {
  it("stays the guide when the sandbox registers its app", async () => {
    const transport = new FakeTransport();
    render(App, { transport });
    await screen.findByTestId("welcome");
    expect(window.location.hash).toBe("#/welcome");
    transport.state.apps = [sampleApp({ name: "sandbox" })];
    transport.emit({ event: "sandbox_changed", status: { running: true, base_url: "http://127.0.0.1:1", app: "sandbox", demo_username: "d", demo_password: "p" } });
    await screen.findByTestId("sandbox-sign-in");
    expect(screen.getByTestId("welcome")).toBeTruthy();
  });
});
