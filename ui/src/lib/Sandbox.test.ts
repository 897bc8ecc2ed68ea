import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import Sandbox from "./Sandbox.svelte";
import type { SandboxStatus, Transport } from "./api";

const stopped: SandboxStatus = {
  running: false,
  baseUrl: null,
  discoveryUrl: null,
  demoUsername: null,
  demoPassword: null,
  demoClientId: null,
  tenantId: null,
};

const running: SandboxStatus = {
  running: true,
  baseUrl: "http://127.0.0.1:47615",
  discoveryUrl: "http://127.0.0.1:47615/organizations/v2.0/.well-known/openid-configuration",
  demoUsername: "demo@sandbox.onmicrosoft.com",
  demoPassword: "demo-password",
  demoClientId: "11111111-2222-3333-4444-555555555555",
  tenantId: "00000000-0000-0000-0000-000000000001",
};

function fakeTransport(overrides: Partial<Transport>): Transport {
  return {
    kind: "none",
    appInfo: vi.fn(),
    sandboxStatus: vi.fn().mockResolvedValue(stopped),
    sandboxStart: vi.fn().mockResolvedValue(running),
    sandboxStop: vi.fn().mockResolvedValue(stopped),
    onSandboxChanged: () => () => undefined,
    ...overrides,
  };
}

afterEach(cleanup);

describe("Sandbox", () => {
  it("starts the sandbox and shows where it runs", async () => {
    const transport = fakeTransport({});
    render(Sandbox, { transport });
    const start = await screen.findByTestId("sandbox-start");
    await fireEvent.click(start);
    expect(transport.sandboxStart).toHaveBeenCalledOnce();
    expect((await screen.findByTestId("sandbox-url")).textContent).toBe(running.baseUrl);
    expect(screen.getByTestId("sandbox-user").textContent).toBe(running.demoUsername);
  });

  it("follows sandbox changes made outside the page, such as from the tray", async () => {
    let notify: (status: SandboxStatus) => void = () => undefined;
    const transport = fakeTransport({
      onSandboxChanged: (listener) => {
        notify = listener;
        return () => undefined;
      },
    });
    render(Sandbox, { transport });
    await screen.findByTestId("sandbox-start");
    notify(running);
    expect((await screen.findByTestId("sandbox-url")).textContent).toBe(running.baseUrl);
    expect(transport.sandboxStart).not.toHaveBeenCalled();
  });

  it("shows the backend's error code and message when starting fails", async () => {
    const transport = fakeTransport({
      sandboxStart: vi.fn().mockRejectedValue({ code: "sandbox_port_in_use", message: "Port 47615 is taken." }),
    });
    render(Sandbox, { transport });
    await fireEvent.click(await screen.findByTestId("sandbox-start"));
    expect((await screen.findByRole("alert")).textContent).toBe("Port 47615 is taken. (sandbox_port_in_use)");
    expect(screen.getByTestId("sandbox-start")).toBeTruthy();
  });
});
