import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import ActivityScreen from "./ActivityScreen.svelte";
import { Session } from "../../lib/state/session.svelte";
import { FakeTransport, backendError, sampleAccount } from "../../lib/testing/fakeTransport";
import type { AuditEntry } from "../../lib/api";

// A fixed clock, so "30 s ago" does not become "31 s ago" on a busy machine.
const now = 1_800_000_000;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(now * 1000));
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});
const entries: AuditEntry[] = [
  { at: now - 30, times: 1, account: "adele@contoso.com", app: "contoso", scopes: ["Mail.Read"], channel: "ipc", pid: 1234, uid: 1000, exe: "/usr/bin/msmtp" },
  { at: now - 7200, times: 3, account: "megan@contoso.com", scopes: ["User.Read"], channel: "http", pid: null, uid: 1000, exe: null },
];

async function setup(transport = new FakeTransport({ audit: entries, accounts: [sampleAccount(), sampleAccount({ username: "megan@contoso.com" })] })) {
  const session = new Session(transport);
  const stop = session.start();
  await session.loadAll();
  render(ActivityScreen, { session });
  return { transport, session, stop };
}

describe("ActivityScreen", () => {
  it("shows which program got which account's token, with which scopes, and when", async () => {
    await setup();
    const rows = await screen.findAllByTestId("activity-row");
    expect(rows).toHaveLength(2);
    const first = within(rows[0] as HTMLElement);
    expect(first.getByTestId("activity-exe").textContent).toBe("msmtp");
    expect(first.getByTestId("activity-exe").getAttribute("title")).toBe("/usr/bin/msmtp");
    expect(first.getByTestId("activity-pid").textContent).toBe("pid 1234");
    expect(first.queryByTestId("activity-times")).toBeNull();
    expect(within(rows[1] as HTMLElement).getByTestId("activity-times").textContent?.trim()).toBe("×3");
    expect(rows[0]?.textContent).toContain("adele@contoso.com");
    expect(rows[0]?.textContent).toContain("Mail.Read");
    expect(rows[0]?.textContent).toContain("IPC socket");
    expect(rows[0]?.textContent).toContain("30 s ago");
    expect(within(rows[1] as HTMLElement).getByTestId("activity-exe").textContent).toBe("the web UI");
    expect(rows[1]?.textContent).toContain("2 h ago");
  });

  it("filters by account", async () => {
    const { transport } = await setup();
    await screen.findAllByTestId("activity-row");
    await fireEvent.change(screen.getByTestId("activity-filter"), { target: { value: "contoso/megan@contoso.com" } });
    await waitFor(() => expect(transport.callsTo("audit.recent").at(-1)).toEqual({ limit: 100, account: "contoso/megan@contoso.com" }));
    expect(transport.callsTo("audit.recent")[0]).toEqual({ limit: 100 });
  });

  it("reloads when a token is handed out", async () => {
    const { transport } = await setup();
    await screen.findAllByTestId("activity-row");
    transport.state.audit = [{ ...entries[0], at: now } as AuditEntry, ...entries];
    transport.emit({ event: "token_issued", account: "contoso/adele@contoso.com", scopes: ["Mail.Read"], channel: "ipc" });
    await waitFor(() => expect(screen.getAllByTestId("activity-row")).toHaveLength(3));
  });

  it("says when nothing was handed out, and explains failures", async () => {
    await setup(new FakeTransport());
    expect(await screen.findByTestId("activity-empty")).toBeTruthy();
    cleanup();
    await setup(
      new FakeTransport().on("audit.recent", () => {
        throw backendError("method_not_found", "no such method");
      }),
    );
    expect((await screen.findByTestId("activity-error")).textContent).toContain("The service is older than this page");
  });
});
