import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import AccountsScreen from "./AccountsScreen.svelte";
import { Session } from "../../lib/state/session.svelte";
import { FakeTransport, backendError, sampleAccount, sampleApp } from "../../lib/testing/fakeTransport";
import type { Account } from "../../lib/api";

const NOW_MS = 1_800_000_000_000;
const NOW = NOW_MS / 1000;

function base64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const JWT = `${base64url({ alg: "RS256", typ: "JWT" })}.${base64url({
  aud: "https://graph.microsoft.com",
  scp: "User.Read Mail.Read",
  upn: "adele@contoso.com",
  exp: NOW + 3600,
})}.c2lnbmF0dXJl`;

let consoleSpies: ReturnType<typeof vi.spyOn>[] = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setInterval", "Date"] });
  vi.setSystemTime(new Date(NOW_MS));
  consoleSpies = (["log", "info", "warn", "error", "debug"] as const).map((name) => vi.spyOn(console, name));
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  // Tokens never reach the console, whatever happened in the test.
  for (const spy of consoleSpies) {
    for (const call of spy.mock.calls) expect(JSON.stringify(call)).not.toContain("eyJ");
    spy.mockRestore();
  }
});

async function setup(accounts: Account[] = [sampleAccount({ expires_at: NOW + 125, last_refresh_at: NOW - 600 })]) {
  const transport = new FakeTransport({ apps: [sampleApp()], accounts });
  transport.on("token.get", (params) => ({
    access_token: JWT,
    token_type: "Bearer",
    expires_at: NOW + 3600,
    scopes: ["User.Read", "Mail.Read"],
    account: params.account,
  }));
  const session = new Session(transport);
  const stop = session.start();
  await session.loadAll();
  const onsignin = vi.fn();
  render(AccountsScreen, { session, onsignin });
  return { transport, session, onsignin, stop };
}

const card = () => screen.getByTestId("account-card");

describe("an account card", () => {
  it("shows who, through which app, how fresh, and what the token grants", async () => {
    await setup([sampleAccount({ alias: "work", expires_at: NOW + 125, last_refresh_at: NOW - 600 })]);
    expect(card().dataset.account).toBe("contoso/adele@contoso.com");
    expect(screen.getByTestId("account-name").textContent).toBe("Adele Vance");
    expect(screen.getByTestId("account-username").textContent).toBe("adele@contoso.com");
    expect(screen.getByTestId("account-alias").textContent).toBe("work");
    expect(screen.getByTestId("account-app").textContent).toBe("contoso");
    expect(screen.getByTestId("account-status").dataset.status).toBe("fresh");
    expect(screen.getByTestId("account-expiry").textContent).toBe("2:05");
    expect(screen.getByTestId("account-last-refresh").textContent?.trim()).toBe("10 min ago");
    expect(within(screen.getByTestId("account-scopes")).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "User.Read",
      "Mail.Read",
    ]);
  });

  it("counts the expiry down every second without asking the service again", async () => {
    const { transport } = await setup();
    const lists = transport.callsTo("accounts.list").length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(screen.getByTestId("account-expiry").textContent).toBe("2:04");
    await vi.advanceTimersByTimeAsync(124_000);
    expect(screen.getByTestId("account-expiry").textContent).toBe("expired");
    expect(transport.callsTo("accounts.list")).toHaveLength(lists);
  });

  it("copies the access token, or the header, with the clipboard auto-clear setting", async () => {
    const { transport, session } = await setup();
    await fireEvent.click(screen.getByTestId("account-copy-token"));
    await waitFor(() => expect(transport.copied).toEqual([{ text: JWT, clearAfterS: 30 }]));
    expect(transport.callsTo("token.get")).toEqual([{ account: "contoso/adele@contoso.com" }]);
    expect(session.toasts.items.at(-1)?.text).toBe("Access token copied; the clipboard is cleared in 30 s.");

    session.settings.set({ ...transport.state.settings, clipboard_clear_s: null });
    await fireEvent.click(screen.getByTestId("account-copy-header"));
    await waitFor(() => expect(transport.copied[1]).toEqual({ text: `Authorization: Bearer ${JWT}`, clearAfterS: null }));
    expect(document.body.innerHTML).not.toContain(JWT);
  });

  it("refreshes now, showing that it is refreshing", async () => {
    const { transport } = await setup();
    let finish: () => void = () => undefined;
    transport.on(
      "token.refresh",
      () =>
        new Promise((resolve) => {
          finish = () => resolve({ access_token: JWT, token_type: "Bearer", expires_at: NOW + 3599, scopes: [], account: "x" });
        }),
    );
    await fireEvent.click(screen.getByTestId("account-refresh"));
    expect(screen.getByTestId("account-status").dataset.status).toBe("refreshing");
    expect((screen.getByTestId("account-refresh") as HTMLButtonElement).disabled).toBe(true);
    finish();
    await waitFor(() => expect(screen.getByTestId("account-status").dataset.status).toBe("fresh"));
    expect(screen.getByTestId("account-expiry").textContent).toBe("59:59");
    expect(transport.callsTo("token.refresh")).toEqual([{ account: "contoso/adele@contoso.com" }]);
  });

  it("explains a failed refresh", async () => {
    const { transport, session } = await setup();
    transport.on("token.refresh", () => {
      throw backendError("transient", "connection reset");
    });
    await fireEvent.click(screen.getByTestId("account-refresh"));
    await waitFor(() => expect(session.toasts.items.at(-1)?.kind).toBe("error"));
    expect(session.toasts.items.at(-1)?.text).toMatch(/^Could not refresh adele@contoso.com: Microsoft could not be reached/);
    expect(screen.getByTestId("account-status").dataset.status).toBe("fresh");
  });

  it("signs out only after asking", async () => {
    const { transport } = await setup();
    transport.on("accounts.logout", () => ({ removed: true }));
    await fireEvent.click(screen.getByTestId("account-logout"));
    expect(screen.getByTestId("confirm-dialog").textContent).toContain("Sign out adele@contoso.com?");
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(transport.callsTo("accounts.logout")).toEqual([{ account: "contoso/adele@contoso.com" }]));
  });

  it("sets and removes an alias", async () => {
    const { transport } = await setup();
    transport.on("accounts.alias", (params) => {
      const account = transport.state.accounts[0] as Account;
      account.alias = (params.alias as string | null) ?? null;
      return account;
    });
    await fireEvent.click(screen.getByTestId("account-set-alias"));
    await fireEvent.input(screen.getByTestId("alias-input"), { target: { value: "a b" } });
    await fireEvent.click(screen.getByTestId("alias-save"));
    expect(screen.getByTestId("alias-input-error").textContent).toMatch(/one word/);
    await fireEvent.input(screen.getByTestId("alias-input"), { target: { value: "work" } });
    await fireEvent.click(screen.getByTestId("alias-save"));
    await waitFor(() => expect(screen.getByTestId("account-alias").textContent).toBe("work"));
    expect(transport.callsTo("accounts.alias")).toEqual([{ account: "contoso/adele@contoso.com", alias: "work" }]);
    await fireEvent.click(screen.getByTestId("account-set-alias"));
    await fireEvent.click(screen.getByTestId("alias-clear"));
    await waitFor(() => expect(transport.callsTo("accounts.alias").at(-1)).toEqual({ account: "contoso/adele@contoso.com", alias: null }));
  });

  it("decodes the token's claims here and shows them in a table", async () => {
    await setup();
    await fireEvent.click(screen.getByTestId("account-claims"));
    const dialog = await screen.findByTestId("token-claims");
    const rows = within(within(dialog).getByTestId("claims-payload-table")).getAllByTestId("claim-row");
    expect(rows.map((row) => row.dataset.claim)).toEqual(["aud", "scp", "upn", "exp"]);
    expect(rows[1]?.textContent).toContain("User.Read Mail.Read");
    expect(within(dialog).getByTestId("claims-header-table").textContent).toContain("RS256");
    expect(dialog.textContent).not.toContain("c2lnbmF0dXJl");
    await fireEvent.click(screen.getByTestId("token-claims-close"));
    expect(screen.queryByTestId("token-claims")).toBeNull();
  });

  it("says when a token is opaque", async () => {
    const { transport } = await setup();
    transport.on("token.get", () => ({ access_token: "EwBwA8l6BAAU-opaque", token_type: "Bearer", expires_at: NOW + 60, scopes: [], account: "x" }));
    await fireEvent.click(screen.getByTestId("account-claims"));
    expect(await screen.findByTestId("claims-opaque")).toBeTruthy();
  });

  it("asks the person to sign in again when the service needs it", async () => {
    const { onsignin } = await setup([sampleAccount({ status: "interaction_required", last_error_code: "interaction_required" })]);
    expect(screen.getByTestId("account-status").textContent).toBe("Interaction required");
    expect(screen.getByTestId("account-problem").textContent).toMatch(/confirm it's you/);
    await fireEvent.click(screen.getByTestId("account-sign-in-again"));
    expect(onsignin).toHaveBeenCalledWith("contoso", "adele@contoso.com");
  });
});

describe("the accounts screen", () => {
  it("puts accounts that need the person first, and follows events", async () => {
    const { transport } = await setup([
      sampleAccount({ username: "a@contoso.com" }),
      sampleAccount({ username: "b@contoso.com", status: "needs_sign_in", last_error_code: "needs_sign_in" }),
    ]);
    expect(screen.getAllByTestId("account-card").map((element) => element.dataset.account)).toEqual([
      "contoso/b@contoso.com",
      "contoso/a@contoso.com",
    ]);
    expect(screen.getAllByTestId("account-status").map((badge) => badge.textContent)).toEqual(["Needs sign-in", "Fresh"]);

    transport.emit({ event: "retry_scheduled", account: "contoso/a@contoso.com", code: "transient", retry_in_s: 120 });
    expect((await screen.findByTestId("account-retry")).textContent).toMatch(/retrying\s+in 2 min/);
    transport.emit({ event: "refreshed", account: "contoso/a@contoso.com", expires_at: NOW + 3000 });
    await waitFor(() => expect(screen.queryByTestId("account-retry")).toBeNull());

    transport.state.accounts = [];
    transport.emit({ event: "account_removed", account: "contoso/a@contoso.com" });
    expect(await screen.findByTestId("accounts-empty")).toBeTruthy();
  });
});
