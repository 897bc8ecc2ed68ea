import { describe, expect, it, vi } from "vitest";
import { Session } from "./session.svelte";
import { FakeTransport, sampleAccount, sampleApp } from "../testing/fakeTransport";

async function started(transport = new FakeTransport({ apps: [sampleApp()], accounts: [sampleAccount()] })) {
  const session = new Session(transport);
  const stop = session.start();
  await session.loadAll();
  return { session, transport, stop };
}

describe("Session", () => {
  it("loads everything once started and stops following events when asked", async () => {
    const { session, transport, stop } = await started();
    expect(session.apps.value?.map((app) => app.name)).toEqual(["contoso"]);
    expect(session.accounts.value).toHaveLength(1);
    expect(session.status.value?.version).toBe("0.1.0");
    expect(session.live).toBe(true);
    expect(transport.listenerCount).toBe(1);
    stop();
    expect(transport.listenerCount).toBe(0);
  });

  it("takes a refreshed expiry at once, then reloads the list", async () => {
    const { session, transport } = await started();
    session.refreshing.add("contoso/adele@contoso.com");
    transport.emit({ event: "refreshed", account: "contoso/ADELE@contoso.com", expires_at: 42 });
    expect(session.accounts.value?.[0]?.expires_at).toBe(42);
    expect(session.refreshing.size).toBe(0);
    await vi.waitFor(() => expect(transport.callsTo("accounts.list")).toHaveLength(2));
  });

  it("reloads everything after a lagged stream or a reconnection, not after the first hello", async () => {
    const transport = new FakeTransport({ apps: [sampleApp()] });
    const { session } = await started(transport);
    const before = transport.callsTo("apps.list").length;
    transport.emit({ event: "subscribed" });
    expect(transport.callsTo("apps.list")).toHaveLength(before);
    transport.emit({ event: "subscribed" });
    expect(transport.callsTo("apps.list")).toHaveLength(before + 1);
    const audit = session.auditVersion;
    transport.emit({ event: "lagged", missed: 12 });
    expect(transport.callsTo("apps.list")).toHaveLength(before + 2);
    expect(session.auditVersion).toBe(audit + 1);
  });

  it("keeps the sandbox's status from its event and reloads the apps it registers", async () => {
    const { session, transport } = await started();
    const status = { running: true, base_url: "http://127.0.0.1:1", app: "sandbox", demo_username: "d", demo_password: "p" };
    transport.emit({ event: "sandbox_changed", status });
    expect(session.sandbox.value).toEqual(status);
    await vi.waitFor(() => expect(transport.callsTo("apps.list")).toHaveLength(2));
  });

  it("never lets an older answer replace a newer one", async () => {
    const transport = new FakeTransport({ accounts: [sampleAccount()] });
    let release: (value: unknown) => void = () => undefined;
    transport.on("accounts.list", () => new Promise((resolve) => (release = resolve)));
    const session = new Session(transport);
    const slow = session.loadAccounts();
    const first = release;
    transport.on("accounts.list", () => [sampleAccount({ username: "new@contoso.com" })]);
    await session.loadAccounts();
    first([sampleAccount({ username: "old@contoso.com" })]);
    await slow;
    expect(session.accounts.value?.[0]?.username).toBe("new@contoso.com");
  });
});

describe("Session, desktop events", () => {
  it("follows settings changed elsewhere and reports deep-link sign-ins", async () => {
    const { session, transport } = await started();
    transport.state.settings = { ...transport.state.settings, clipboard_clear_s: 10 };
    transport.emit({ event: "settings_changed" });
    await vi.waitFor(() => expect(session.clipboardClearS).toBe(10));

    transport.emit({ event: "deep_link_signed_in", account: sampleAccount() });
    expect(session.toasts.items.at(-1)).toMatchObject({ kind: "success", text: "Signed in as Adele Vance." });
    transport.emit({ event: "deep_link_refused", code: "state_mismatch", message: "no such sign-in" });
    expect(session.toasts.items.at(-1)?.text).toMatch(/^The sign-in from the browser was refused: That address belongs to another sign-in/);
  });
});
