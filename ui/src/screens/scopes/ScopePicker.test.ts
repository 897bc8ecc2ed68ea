import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import ScopePicker from "./ScopePicker.svelte";
import { Session } from "../../lib/state/session.svelte";
import { FakeTransport } from "../../lib/testing/fakeTransport";
import type { ProtocolSpec } from "../../lib/api";

afterEach(cleanup);

function setup(value: string[], protocol: ProtocolSpec = { kind: "graph", version: "v1.0" }, protocolLocked = false) {
  const transport = new FakeTransport();
  const session = new Session(transport);
  render(ScopePicker, { session, value, protocol, protocolLocked });
  return transport;
}

const lastPreview = (transport: FakeTransport) => transport.callsTo("scopes.preview").at(-1);

describe("ScopePicker", () => {
  it("lists the helpers with what they grant and their exact scopes, and splits the given entries", async () => {
    const transport = setup(["basic", "Mail.Send.Shared"]);
    const basic = (await screen.findByTestId("scope-helper-basic")) as HTMLInputElement;
    expect(basic.checked).toBe(true);
    expect((screen.getByTestId("scope-helper-mailbox") as HTMLInputElement).checked).toBe(false);
    expect(screen.getByText("Read, write and send mail")).toBeTruthy();
    expect(screen.getByText("Mail.ReadWrite Mail.Send")).toBeTruthy();
    expect((screen.getByTestId("scope-free") as HTMLInputElement).value).toBe("Mail.Send.Shared");
    expect(transport.callsTo("scopes.helpers")[0]).toEqual({ protocol: { kind: "graph", version: "v1.0" } });
  });

  it("previews the exact scopes live as helpers and scopes are chosen, flagging unknown entries", async () => {
    const transport = setup(["basic"]);
    await fireEvent.click(await screen.findByTestId("scope-helper-mailbox"));
    await waitFor(() => expect(lastPreview(transport)).toEqual({ protocol: { kind: "graph", version: "v1.0" }, scopes: ["basic", "mailbox"] }));
    await waitFor(() =>
      expect(screen.getAllByTestId("scope-preview-scope").map((chip) => chip.textContent)).toEqual(["User.Read", "Mail.Read"]),
    );

    await fireEvent.input(screen.getByTestId("scope-free"), { target: { value: "Sites.Read.All, mailboxx" } });
    await waitFor(() => expect(lastPreview(transport)?.scopes).toEqual(["basic", "mailbox", "Sites.Read.All", "mailboxx"]));
    const unknown = await screen.findByTestId("scope-unknown");
    expect(unknown.textContent).toContain("mailboxx");
    expect(screen.getByTestId("scope-preview").textContent).toContain("is not a scope helper");

    await fireEvent.click(screen.getByTestId("scope-helper-basic"));
    await waitFor(() => expect(lastPreview(transport)?.scopes).toEqual(["mailbox", "Sites.Read.All", "mailboxx"]));
  });

  it("filters the helper table", async () => {
    setup([]);
    await screen.findByTestId("scope-helper-basic");
    await fireEvent.input(screen.getByTestId("scope-filter"), { target: { value: "calendar" } });
    expect(screen.queryByTestId("scope-helper-basic")).toBeNull();
    expect(screen.getByTestId("scope-helper-calendar")).toBeTruthy();
    await fireEvent.input(screen.getByTestId("scope-filter"), { target: { value: "Mail.Send" } });
    expect(screen.getByTestId("scope-helper-message_send")).toBeTruthy();
    expect(screen.getByTestId("scope-helper-message_all")).toBeTruthy();
  });

  it("asks again for helpers and preview when the API changes", async () => {
    const transport = setup(["basic"]);
    await screen.findByTestId("scope-helper-basic");
    await fireEvent.change(screen.getByTestId("scope-protocol"), { target: { value: "business_central" } });
    const businessCentral = { kind: "business_central", environment: "production", tenant_in_url: false };
    await waitFor(() => expect(transport.callsTo("scopes.helpers").at(-1)).toEqual({ protocol: businessCentral }));
    await waitFor(() => expect(lastPreview(transport)?.protocol).toEqual(businessCentral));
    await fireEvent.input(screen.getByTestId("scope-bc-environment"), { target: { value: "sandbox" } });
    await waitFor(() => expect(lastPreview(transport)?.protocol).toMatchObject({ environment: "sandbox" }));
  });

  it("keeps the API fixed where the app decides it", async () => {
    setup(["basic"], { kind: "graph", version: "beta" }, true);
    const select = (await screen.findByTestId("scope-protocol")) as HTMLSelectElement;
    expect(select.disabled).toBe(true);
    expect(select.value).toBe("graph:beta");
  });

  it("falls back to free-form scopes when the helper list is unavailable", async () => {
    const transport = new FakeTransport().on("scopes.helpers", () => {
      throw { code: "method_not_found", message: "no such method" };
    });
    render(ScopePicker, { session: new Session(transport), value: ["basic", "Mail.Read"], protocol: { kind: "graph" } });
    expect(await screen.findByTestId("scope-helpers-error")).toBeTruthy();
    await waitFor(() => expect((screen.getByTestId("scope-free") as HTMLInputElement).value).toBe("basic Mail.Read"));
  });
});
