import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import AppsScreen from "./AppsScreen.svelte";
import { Session } from "../../lib/state/session.svelte";
import { FakeTransport, backendError, sampleApp } from "../../lib/testing/fakeTransport";
import type { AppRegistration } from "../../lib/api";

afterEach(cleanup);

const GUID = "9b3c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b11";

async function setup(editing: string | null, apps: AppRegistration[] = [sampleApp()]) {
  const transport = new FakeTransport({ apps });
  transport.on("apps.add", (params) => sampleApp({ ...(params as Partial<AppRegistration>), accounts: 0 }));
  transport.on("apps.update", (params) => sampleApp({ name: String(params.new_name ?? params.name) }));
  transport.on("apps.remove", () => ({ removed: true }));
  const session = new Session(transport);
  await session.loadAll();
  const onedit = vi.fn();
  const onsignin = vi.fn();
  render(AppsScreen, { session, editing, onedit, onsignin });
  return { transport, session, onedit, onsignin };
}

const input = (testid: string) => screen.getByTestId(testid) as HTMLInputElement;

async function type(testid: string, value: string): Promise<void> {
  await fireEvent.input(input(testid), { target: { value } });
}

describe("the app list", () => {
  it("shows each registration with its flow, tenant, client id and scopes", async () => {
    await setup(null, [sampleApp(), sampleApp({ name: "fabrikam", flow: "credentials", has_client_secret: true, accounts: 0 })]);
    const rows = screen.getAllByTestId("app-row");
    expect(rows.map((row) => row.dataset.app)).toEqual(["contoso", "fabrikam"]);
    expect(rows[0]?.textContent).toContain("Public client");
    expect(rows[0]?.textContent).toContain(GUID);
    expect(rows[0]?.textContent).toContain("mailbox");
    expect(rows[1]?.textContent).toContain("client secret (stored sealed)");
  });

  it("removes an app only after asking", async () => {
    const { transport } = await setup(null);
    await fireEvent.click(screen.getByTestId("app-remove"));
    const dialog = screen.getByTestId("confirm-dialog");
    expect(dialog.textContent).toContain("signs out its 1 account");
    await fireEvent.click(screen.getByTestId("confirm-no"));
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(transport.callsTo("apps.remove")).toEqual([]);

    await fireEvent.click(screen.getByTestId("app-remove"));
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(transport.callsTo("apps.remove")).toEqual([{ name: "contoso" }]));
    await waitFor(() => expect(screen.queryByTestId("confirm-dialog")).toBeNull());
  });

  it("closes the confirmation with Escape", async () => {
    await setup(null);
    await fireEvent.click(screen.getByTestId("app-remove"));
    expect(document.activeElement?.getAttribute("data-testid")).toBe("confirm-no");
    await fireEvent.keyDown(screen.getByTestId("confirm-dialog"), { key: "Escape" });
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
  });

  it("opens the form to add, edit and sign in", async () => {
    const { onedit, onsignin } = await setup(null);
    await fireEvent.click(screen.getByTestId("apps-add"));
    expect(onedit).toHaveBeenLastCalledWith("new");
    await fireEvent.click(screen.getByTestId("app-edit"));
    expect(onedit).toHaveBeenLastCalledWith("contoso");
    await fireEvent.click(screen.getByTestId("app-sign-in"));
    expect(onsignin).toHaveBeenCalledWith("contoso", undefined);
  });
});

describe("adding an app", () => {
  it("checks each field as it is left, and every field on save", async () => {
    const { transport } = await setup("new", []);
    await type("app-client-id", "not-a-guid");
    expect(screen.queryByTestId("app-client-id-error")).toBeNull();
    await fireEvent.blur(input("app-client-id"));
    expect(screen.getByTestId("app-client-id-error").textContent).toMatch(/GUID/);
    expect(input("app-client-id").getAttribute("aria-invalid")).toBe("true");
    expect(input("app-client-id").getAttribute("aria-describedby")).toContain("app-client-id-error");

    await fireEvent.click(screen.getByTestId("app-save"));
    expect(screen.getByTestId("app-name-error").textContent).toMatch(/Give the app a name/);
    expect(transport.callsTo("apps.add")).toEqual([]);
    await waitFor(() => expect(document.activeElement).toBe(input("app-name")));
  });

  it("sends apps.add with the chosen values and the scope picker's scopes", async () => {
    const { transport, onedit } = await setup("new", []);
    await type("app-name", "contoso");
    await type("app-client-id", GUID);
    await type("app-tenant", "contoso.onmicrosoft.com");
    await fireEvent.click(screen.getByTestId("app-redirect-native_client"));
    await fireEvent.click(await screen.findByTestId("scope-helper-mailbox"));
    await fireEvent.click(screen.getByTestId("app-save"));
    await waitFor(() =>
      expect(transport.callsTo("apps.add")).toEqual([
        {
          name: "contoso",
          client_id: GUID,
          tenant: "contoso.onmicrosoft.com",
          flow: "public",
          redirect: "native_client",
          protocol: { kind: "graph", version: "v1.0" },
          default_scopes: ["basic", "mailbox"],
        },
      ]),
    );
    await waitFor(() => expect(onedit).toHaveBeenCalledWith(null));
  });

  it("asks for a secret for client credentials, sends it once, and wipes it from the page", async () => {
    const { transport } = await setup("new", []);
    await type("app-name", "daemon");
    await type("app-client-id", GUID);
    await type("app-tenant", "contoso.onmicrosoft.com");
    await fireEvent.click(screen.getByTestId("app-flow-credentials"));
    expect(screen.queryByTestId("app-redirect-loopback")).toBeNull();
    await fireEvent.click(screen.getByTestId("app-save"));
    expect(screen.getByTestId("app-secret-error").textContent).toMatch(/Value/);
    await type("app-secret", "s3cr3t-value");
    expect(input("app-secret").type).toBe("password");
    await fireEvent.click(screen.getByTestId("app-save"));
    await waitFor(() => expect(transport.callsTo("apps.add")[0]).toMatchObject({ flow: "credentials", client_secret: "s3cr3t-value" }));
    await waitFor(() => expect(input("app-secret").value).toBe(""));
    expect(document.body.innerHTML).not.toContain("s3cr3t-value");
  });

  it("reads a .pfx as base64 and asks for its password", async () => {
    const { transport } = await setup("new", []);
    await type("app-name", "daemon");
    await type("app-client-id", GUID);
    await type("app-tenant", "contoso.onmicrosoft.com");
    await fireEvent.click(screen.getByTestId("app-flow-credentials"));
    await fireEvent.click(screen.getByTestId("app-credential-certificate"));
    const file = new File([new Uint8Array([1, 2, 3])], "daemon.pfx");
    await fireEvent.change(screen.getByTestId("app-certificate-file"), { target: { files: [file] } });
    expect((await screen.findByTestId("app-certificate-name")).textContent).toContain("daemon.pfx");
    await type("app-pkcs12-password", "bundle-pw");
    await fireEvent.click(screen.getByTestId("app-save"));
    await waitFor(() =>
      expect(transport.callsTo("apps.add")[0]).toMatchObject({ pkcs12_base64: "AQID", pkcs12_password: "bundle-pw" }),
    );
    expect(transport.callsTo("apps.add")[0]?.client_secret).toBeUndefined();
  });

  it("shows the service's invalid_input next to the field it names", async () => {
    const { transport } = await setup("new", []);
    transport.on("apps.add", () => {
      throw backendError("invalid_input", "tenant: `contoso.local` has no tenant", { field: "tenant" });
    });
    await type("app-name", "contoso");
    await type("app-client-id", GUID);
    await type("app-tenant", "contoso.local");
    await fireEvent.click(screen.getByTestId("app-save"));
    expect((await screen.findByTestId("app-tenant-error")).textContent).toBe("tenant: `contoso.local` has no tenant");
    await type("app-tenant", "contoso.com");
    expect(screen.queryByTestId("app-tenant-error")).toBeNull();
  });

  it("shows other failures for the whole form", async () => {
    const { transport } = await setup("new", []);
    transport.on("apps.add", () => {
      throw backendError("store_io", "disk full");
    });
    await type("app-name", "contoso");
    await type("app-client-id", GUID);
    await fireEvent.click(screen.getByTestId("app-save"));
    expect((await screen.findByTestId("app-form-error")).textContent).toContain("disk full");
  });
});

describe("editing an app", () => {
  it("sends only the changes, renaming with new_name", async () => {
    const { transport } = await setup("contoso", [sampleApp({ accounts: 0 })]);
    expect(input("app-name").value).toBe("contoso");
    await type("app-name", "contoso-mail");
    await fireEvent.click(screen.getByTestId("app-redirect-deep_link"));
    await fireEvent.click(screen.getByTestId("app-save"));
    await waitFor(() =>
      expect(transport.callsTo("apps.update")).toEqual([{ name: "contoso", new_name: "contoso-mail", redirect: "deep_link" }]),
    );
  });

  it("keeps client id, tenant and cloud while accounts are signed in", async () => {
    await setup("contoso", [sampleApp({ accounts: 2 })]);
    expect(input("app-client-id").disabled).toBe(true);
    expect(input("app-tenant").disabled).toBe(true);
    expect((screen.getByTestId("app-cloud") as HTMLSelectElement).disabled).toBe(true);
    expect(screen.getByTestId("app-pinned").textContent).toContain("while 2 accounts are signed in through this app");
  });

  it("keeps a stored secret unless a new one is given", async () => {
    const { transport } = await setup("fab", [sampleApp({ name: "fab", flow: "credentials", has_client_secret: true, accounts: 0 })]);
    expect((screen.getByTestId("app-credential-keep") as HTMLInputElement).checked).toBe(true);
    expect(screen.queryByTestId("app-secret")).toBeNull();
    await fireEvent.click(screen.getByTestId("app-credential-secret"));
    await type("app-secret", "rotated");
    await fireEvent.click(screen.getByTestId("app-save"));
    await waitFor(() => expect(transport.callsTo("apps.update")).toEqual([{ name: "fab", client_secret: "rotated" }]));
  });

  it("says so when nothing changed, without a call", async () => {
    const { transport, onedit, session } = await setup("contoso");
    await fireEvent.click(screen.getByTestId("app-save"));
    expect(transport.callsTo("apps.update")).toEqual([]);
    expect(onedit).toHaveBeenCalledWith(null);
    expect(session.toasts.items.map((toast) => toast.text)).toEqual(["Nothing changed."]);
  });

  it("says so when the app is gone", async () => {
    await setup("vanished");
    expect(within(screen.getByTestId("apps-screen")).getByText(/no app called “vanished”/)).toBeTruthy();
  });
});
