import { describe, expect, it } from "vitest";
import { describeError } from "./api";
import { pickTransport } from "./transport";

describe("pickTransport", () => {
  it("uses Tauri IPC inside the app window", () => {
    expect(pickTransport(true).kind).toBe("tauri");
  });

  it("refuses with a clear error when no backend is reachable", async () => {
    const transport = pickTransport(false);
    expect(transport.kind).toBe("none");
    await expect(transport.appInfo()).rejects.toMatchObject({ code: "no_backend" });
    const error: unknown = await transport.sandboxStart().catch((caught: unknown) => caught);
    expect(describeError(error)).toMatch(/No o365-auth backend is reachable.*\(no_backend\)$/);
  });
});
