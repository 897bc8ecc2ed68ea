import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/svelte";
import WelcomeScreen from "./WelcomeScreen.svelte";
import { Session } from "../../lib/state/session.svelte";
import { FakeTransport, backendError, sampleApp } from "../../lib/testing/fakeTransport";
import type { SandboxStatus } from "../../lib/api";

const running: SandboxStatus = {
  running: true,
  base_url: "http://127.0.0.1:47615",
  app: "sandbox",
  demo_username: "demo@sandbox.onmicrosoft.com",
  demo_password: "demo-password",
};

afterEach(cleanup);

async function setup(transport = new FakeTransport()) {
  const session = new Session(transport);
  const stop = session.start();
  await session.loadAll();
  const onsignin = vi.fn();
  const onaddapp = vi.fn();
  render(WelcomeScreen, { session, onsignin, onaddapp });
  return { transport, session, onsignin, onaddapp, stop };
}

describe("WelcomeScreen", () => {
  it("explains the Entra registration with the redirect URIs to paste", async () => {
    const { transport, onaddapp } = await setup();
    const guide = screen.getByTestId("entra-guide");
    expect(guide.textContent).toContain("Mobile and desktop applications");
    expect(guide.textContent).toContain("Allow public client flows");
    expect(guide.textContent).toContain("User.Read");
    expect(guide.textContent).toContain("offline_access");
    for (const uri of ["http://localhost", "o365auth://auth", "https://login.microsoftonline.com/common/oauth2/nativeclient"]) {
      expect(guide.textContent).toContain(uri);
    }
    await fireEvent.click(screen.getByTestId("copy-redirect-native_client"));
    expect(transport.copied).toEqual([{ text: "https://login.microsoftonline.com/common/oauth2/nativeclient", clearAfterS: null }]);
    await fireEvent.click(screen.getByTestId("welcome-add-app"));
    expect(onaddapp).toHaveBeenCalledOnce();
  });

  it("starts the sandbox and offers to sign in as the demo user", async () => {
    const transport = new FakeTransport();
    transport.on("sandbox.start", () => {
      transport.state.sandbox = running;
      transport.state.apps = [sampleApp({ name: "sandbox", accounts: 0 })];
      return running;
    });
    const { onsignin, session } = await setup(transport);
    expect(screen.getByTestId("sandbox-state").dataset.running).toBe("false");
    await fireEvent.click(screen.getByTestId("sandbox-start"));
    expect((await screen.findByTestId("sandbox-url")).textContent).toBe(running.base_url);
    expect(screen.getByTestId("sandbox-user").textContent).toBe(running.demo_username);
    expect(screen.getByTestId("sandbox-password").textContent).toBe(running.demo_password);
    expect(transport.callsTo("sandbox.start")).toEqual([{}]);
    await vi.waitFor(() => expect(session.apps.value?.map((app) => app.name)).toEqual(["sandbox"]));
    await fireEvent.click(screen.getByTestId("sandbox-sign-in"));
    expect(onsignin).toHaveBeenCalledWith("sandbox", running.demo_username);
  });

  it("follows sandbox changes made elsewhere, such as from the tray", async () => {
    const { transport } = await setup();
    transport.emit({ event: "sandbox_changed", status: running });
    expect((await screen.findByTestId("sandbox-url")).textContent).toBe(running.base_url);
    transport.emit({ event: "sandbox_changed", status: { ...running, running: false, base_url: null } });
    expect(await screen.findByTestId("sandbox-start")).toBeTruthy();
  });

  it("explains why the sandbox did not start", async () => {
    const transport = new FakeTransport().on("sandbox.start", () => {
      throw backendError("invalid_input", "an app of yours is named `sandbox`; rename it to use the sandbox", { field: "sandbox" });
    });
    await setup(transport);
    await fireEvent.click(screen.getByTestId("sandbox-start"));
    const explanation = await screen.findByTestId("error-explanation");
    expect(within(explanation).getByText(/rename it to use the sandbox/)).toBeTruthy();
    expect(screen.getByTestId("sandbox-start")).toBeTruthy();
  });
});

describe("a service without the sandbox", () => {
  it("says why instead of offering a button that cannot work", async () => {
    const transport = new FakeTransport().on("sandbox.status", () => {
      throw backendError("invalid_input", "sandbox: this service was started without a sandbox", { field: "sandbox" });
    });
    await setup(transport);
    expect(screen.getByTestId("sandbox-state").textContent).toContain("this service was started without a sandbox");
    expect(screen.queryByTestId("sandbox-start")).toBeNull();
  });
});
