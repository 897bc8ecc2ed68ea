import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import SettingsScreen from "./SettingsScreen.svelte";
import { Session } from "../../lib/state/session.svelte";
import { FakeTransport, backendError } from "../../lib/testing/fakeTransport";

afterEach(cleanup);

async function setup(transport = new FakeTransport()) {
  const session = new Session(transport);
  await session.loadAll();
  render(SettingsScreen, { session });
  return { transport, session };
}

const field = (testid: string) => screen.getByTestId(testid) as HTMLInputElement;

describe("SettingsScreen", () => {
  it("shows the service's settings in people's units", async () => {
    await setup();
    expect(field("settings-refresh-margin").value).toBe("5");
    expect(field("settings-keep-alive").value).toBe("14");
    expect(field("settings-ipc").checked).toBe(true);
    expect(field("settings-start-at-login").checked).toBe(false);
    expect(field("settings-notifications").checked).toBe(true);
    expect(field("settings-proxy").value).toBe("");
    expect(field("settings-clipboard-clear").checked).toBe(true);
    expect(field("settings-clipboard-seconds").value).toBe("30");
    expect(field("settings-request-timeout").value).toBe("60");
    expect((screen.getByTestId("settings-save") as HTMLButtonElement).disabled).toBe(true);
  });

  it("saves only what changed and says so", async () => {
    const { transport, session } = await setup();
    await fireEvent.input(field("settings-refresh-margin"), { target: { value: "10" } });
    await fireEvent.click(field("settings-start-at-login"));
    await fireEvent.click(field("settings-clipboard-clear"));
    expect(screen.queryByTestId("settings-clipboard-seconds")).toBeNull();
    await fireEvent.input(field("settings-request-timeout"), { target: { value: "20" } });
    await fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() =>
      expect(transport.callsTo("settings.set")).toEqual([
        { refresh_margin_s: 600, start_at_login: true, clipboard_clear_s: null, request_timeout_s: 20 },
      ]),
    );
    expect(await screen.findByTestId("settings-saved")).toBeTruthy();
    expect(session.settings.value?.refresh_margin_s).toBe(600);
    expect(session.clipboardClearS).toBeNull();
    expect((screen.getByTestId("settings-save") as HTMLButtonElement).disabled).toBe(true);
  });

  it("checks values before sending them", async () => {
    const { transport } = await setup();
    await fireEvent.input(field("settings-keep-alive"), { target: { value: "120" } });
    await fireEvent.input(field("settings-proxy"), { target: { value: "socks5://proxy:1080" } });
    await fireEvent.input(field("settings-request-timeout"), { target: { value: "1" } });
    await fireEvent.click(screen.getByTestId("settings-save"));
    expect(screen.getByTestId("settings-keep-alive-error").textContent).toMatch(/1 to 80/);
    expect(screen.getByTestId("settings-request-timeout-error").textContent).toMatch(/2 to 600/);
    expect(screen.getByTestId("settings-proxy-error").textContent).toMatch(/http:\/\/host:port/);
    expect(field("settings-proxy").getAttribute("aria-invalid")).toBe("true");
    expect(transport.callsTo("settings.set")).toEqual([]);
  });

  it("shows the service's refusal on its field, and undoes changes", async () => {
    const transport = new FakeTransport().on("settings.set", () => {
      throw backendError("invalid_input", "proxy_url: must not carry a user name or password", { field: "proxy_url" });
    });
    await setup(transport);
    await fireEvent.input(field("settings-proxy"), { target: { value: "http://proxy.example.com:3128" } });
    await fireEvent.click(screen.getByTestId("settings-save"));
    expect((await screen.findByTestId("settings-proxy-error")).textContent).toBe("proxy_url: must not carry a user name or password");
    await fireEvent.click(screen.getByTestId("settings-reset"));
    expect(field("settings-proxy").value).toBe("");
    expect(screen.queryByTestId("settings-proxy-error")).toBeNull();
  });

  it("explains when the service has no settings", async () => {
    await setup(
      new FakeTransport().on("settings.get", () => {
        throw backendError("method_not_found", "no such method");
      }),
    );
    expect(screen.getByTestId("settings-unavailable").textContent).toContain("The service is older than this page");
  });
});
