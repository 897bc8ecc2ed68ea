import { afterEach, describe, expect, it, vi } from "vitest";
import type { ServiceEvent } from "./api";
import { httpTransport, missingTransport, pickTransport, takeSecret, tauriTransport, toBackendError } from "./transport";

afterEach(() => {
  vi.useRealTimers();
  sessionStorage.clear();
});

describe("toBackendError", () => {
  it("prefers the stable data.code and copies Microsoft's details", () => {
    expect(
      toBackendError({
        code: -32000,
        message: "Sign in again: ...",
        data: {
          code: "needs_sign_in",
          aadsts: "AADSTS700082",
          correlation_id: "c0ffee",
          retry_after_s: null,
        },
      }),
    ).toEqual({ code: "needs_sign_in", message: "Sign in again: ...", aadsts: "AADSTS700082", correlation_id: "c0ffee" });
  });

  it("names bare JSON-RPC codes and keeps field, retry time and candidates", () => {
    expect(toBackendError({ code: -32601, message: "no such method" }).code).toBe("method_not_found");
    expect(toBackendError({ code: -32099, message: "?" }).code).toBe("rpc_error_-32099");
    expect(
      toBackendError({ code: -32602, message: "client id: must be a GUID", data: { code: "invalid_input", field: "client_id" } }),
    ).toMatchObject({ code: "invalid_input", field: "client_id" });
    expect(toBackendError({ code: -32000, message: "slow", data: { code: "throttled", retry_after_s: 30 } }).retry_after_s).toBe(30);
    expect(
      toBackendError({ code: -32000, message: "which?", data: { code: "account_ambiguous", candidates: ["a/x", "b/x"] } }).candidates,
    ).toEqual(["a/x", "b/x"]);
  });

  it("turns whatever else was thrown into a backend_error", () => {
    expect(toBackendError("command rpc not found")).toEqual({ code: "backend_error", message: "command rpc not found" });
    expect(toBackendError(undefined).code).toBe("backend_error");
  });
});

describe("tauriTransport", () => {
  it("sends every method through the rpc command and maps its rejections", async () => {
    const invoke = vi.fn(async (command: string, args?: Record<string, unknown>) => {
      if (args?.method === "token.get") throw { code: -32000, message: "Sign in again", data: { code: "needs_sign_in" } };
      return { command, args };
    });
    const transport = tauriTransport(invoke, vi.fn());
    expect(transport.kind).toBe("tauri");
    await expect(transport.call("apps.list")).resolves.toEqual({ command: "rpc", args: { method: "apps.list", params: {} } });
    await transport.call("accounts.alias", { account: "a", alias: "w" });
    expect(invoke).toHaveBeenLastCalledWith("rpc", { method: "accounts.alias", params: { account: "a", alias: "w" } });
    await expect(transport.call("token.get")).rejects.toEqual({ code: "needs_sign_in", message: "Sign in again" });
  });

  it("opens addresses and copies text through the shell's commands", async () => {
    const invoke = vi.fn(async () => null);
    const transport = tauriTransport(invoke, vi.fn());
    await transport.openUrl("https://login.example/authorize");
    await transport.copyText("abc", 30);
    expect(invoke).toHaveBeenCalledWith("open_url", { url: "https://login.example/authorize" });
    expect(invoke).toHaveBeenCalledWith("copy_text", { text: "abc", clearAfterS: 30 });
  });

  it("delivers service-event payloads and stops listening when asked, even before listen resolved", async () => {
    let handler: ((event: { payload: unknown }) => void) | undefined;
    const unlisten = vi.fn();
    let resolveListen: (stop: () => void) => void = () => undefined;
    const listen = vi.fn((name: string, callback: (event: { payload: unknown }) => void) => {
      expect(name).toBe("service-event");
      handler = callback;
      return new Promise<() => void>((resolve) => (resolveListen = resolve));
    });
    const transport = tauriTransport(vi.fn(), listen);
    const events: ServiceEvent[] = [];
    const stop = transport.subscribe((event) => events.push(event));
    handler?.({ payload: { event: "refreshed", account: "contoso/adele@contoso.com", expires_at: 1 } });
    handler?.({ payload: "not an event" });
    expect(events).toEqual([{ event: "refreshed", account: "contoso/adele@contoso.com", expires_at: 1 }]);
    stop();
    resolveListen(unlisten);
    await Promise.resolve();
    await Promise.resolve();
    expect(unlisten).toHaveBeenCalledOnce();
    handler?.({ payload: { event: "lagged" } });
    expect(events).toHaveLength(1);
  });
});

type FetchCall = { url: string; init: RequestInit };

function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("httpTransport calls", () => {
  it("posts one JSON-RPC request with the Bearer secret and returns the result", async () => {
    const calls: FetchCall[] = [];
    const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init: init ?? {} });
      const body = JSON.parse(String(init?.body)) as { id: number };
      return jsonResponse({ jsonrpc: "2.0", id: body.id, result: [{ name: "contoso" }] });
    });
    const transport = httpTransport({ secret: "00ff", fetch, baseUrl: "http://127.0.0.1:8765" });
    await expect(transport.call("apps.list")).resolves.toEqual([{ name: "contoso" }]);
    await transport.call("apps.show", { name: "contoso" });
    expect(calls[0]?.url).toBe("http://127.0.0.1:8765/rpc");
    expect(calls[0]?.init.method).toBe("POST");
    expect(calls[0]?.init.headers).toEqual({ Authorization: "Bearer 00ff", "Content-Type": "application/json" });
    const first = JSON.parse(String(calls[0]?.init.body)) as Record<string, unknown>;
    const second = JSON.parse(String(calls[1]?.init.body)) as Record<string, unknown>;
    expect(first).toEqual({ jsonrpc: "2.0", id: first.id, method: "apps.list", params: {} });
    expect(second).toMatchObject({ method: "apps.show", params: { name: "contoso" } });
    expect(second.id).not.toBe(first.id);
  });

  it("maps JSON-RPC errors like the IPC socket's", async () => {
    const fetch = vi.fn(async () =>
      jsonResponse({
        jsonrpc: "2.0",
        id: 1,
        error: { code: -32602, message: "client_id must be a GUID", data: { code: "invalid_input", field: "client_id" } },
      }),
    );
    const transport = httpTransport({ secret: "00", fetch });
    await expect(transport.call("apps.add", {})).rejects.toEqual({
      code: "invalid_input",
      message: "client_id must be a GUID",
      field: "client_id",
    });
  });

  it("explains a refused secret, an unreachable daemon and an answer that is not JSON-RPC", async () => {
    const refused = httpTransport({ secret: "00", fetch: vi.fn(async () => new Response("missing or wrong API secret", { status: 401 })) });
    await expect(refused.call("status")).rejects.toMatchObject({ code: "unauthorized" });
    const gone = httpTransport({ secret: "00", fetch: vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))) });
    await expect(gone.call("status")).rejects.toMatchObject({ code: "backend_unreachable" });
    const odd = httpTransport({ secret: "00", fetch: vi.fn(async () => new Response("<html>", { status: 502 })) });
    await expect(odd.call("status")).rejects.toMatchObject({ code: "http_502" });
  });

  it("opens addresses in a new tab without an opener", async () => {
    const open = vi.fn();
    await httpTransport({ secret: "00", fetch: vi.fn(), open }).openUrl("https://example.test/");
    expect(open).toHaveBeenCalledWith("https://example.test/");
    const windowOpen = vi.spyOn(window, "open").mockReturnValue(null);
    await httpTransport({ secret: "00", fetch: vi.fn() }).openUrl("https://example.test/a");
    expect(windowOpen).toHaveBeenCalledWith("https://example.test/a", "_blank", "noopener");
    windowOpen.mockRestore();
  });

  it("clears the clipboard after the delay only if it still holds what was copied", async () => {
    vi.useFakeTimers();
    let content = "";
    const clipboard = {
      writeText: vi.fn(async (text: string) => void (content = text)),
      readText: vi.fn(async () => content),
    };
    const transport = httpTransport({ secret: "00", fetch: vi.fn(), clipboard });
    await transport.copyText("token-1", 30);
    expect(content).toBe("token-1");
    await vi.advanceTimersByTimeAsync(29_000);
    expect(content).toBe("token-1");
    await vi.advanceTimersByTimeAsync(1000);
    expect(content).toBe("");

    await transport.copyText("token-2", 5);
    content = "something the person copied since";
    await vi.advanceTimersByTimeAsync(5000);
    expect(content).toBe("something the person copied since");

    await transport.copyText("kept", null);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(content).toBe("kept");
  });
});

/** A /events response whose chunks the test pushes. */
function eventStream(): { response: Response; push: (text: string) => void; close: () => void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    response: new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
    push: (text) => controller.enqueue(new TextEncoder().encode(text)),
    close: () => controller.close(),
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("httpTransport events", () => {
  it("reads GET /events with the secret, across chunk boundaries, and reconnects when it ends", async () => {
    const streams = [eventStream(), eventStream()];
    const requests: RequestInit[] = [];
    const fetch = vi.fn(async (_url: string | URL | Request, init?: RequestInit) => {
      requests.push(init ?? {});
      const next = streams[requests.length - 1];
      if (!next) return new Promise<Response>(() => undefined);
      return next.response;
    });
    const transport = httpTransport({ secret: "beef", fetch, reconnectMs: { first: 5, max: 20 } });
    const events: ServiceEvent[] = [];
    const stop = transport.subscribe((event) => events.push(event));

    await until(() => requests.length === 1, "the first connection");
    expect(fetch.mock.calls[0]?.[0]).toBe("/events");
    expect(requests[0]?.headers).toMatchObject({ Authorization: "Bearer beef" });
    streams[0]?.push('data: {"event":"subscribed"}\n\ndata: {"event":"refre');
    streams[0]?.push('shed","account":"contoso/adele@contoso.com","expires_at":17}\n');
    streams[0]?.push("\n: keep-alive\n\n");
    await until(() => events.length === 2, "two events");
    expect(events).toEqual([
      { event: "subscribed" },
      { event: "refreshed", account: "contoso/adele@contoso.com", expires_at: 17 },
    ]);

    streams[0]?.close();
    await until(() => requests.length === 2, "the reconnection");
    streams[1]?.push('data: {"event":"subscribed"}\n\n');
    await until(() => events.length === 3, "the hello of the new stream");

    stop();
    expect((requests[1]?.signal as AbortSignal).aborted).toBe(true);
  });

  it("backs off while the daemon is down, then connects", async () => {
    const stream = eventStream();
    let attempts = 0;
    const fetch = vi.fn(async () => {
      attempts++;
      if (attempts < 3) throw new TypeError("connection refused");
      return stream.response;
    });
    const transport = httpTransport({ secret: "00", fetch, reconnectMs: { first: 5, max: 10 } });
    const events: ServiceEvent[] = [];
    const stop = transport.subscribe((event) => events.push(event));
    await until(() => attempts === 3, "three attempts");
    stream.push('data: {"event":"subscribed"}\n\n');
    await until(() => events.length === 1, "the hello");
    stop();
  });

  it("shares one stream between listeners and closes it when the last one leaves", async () => {
    const stream = eventStream();
    const fetch = vi.fn(async () => stream.response);
    const transport = httpTransport({ secret: "00", fetch });
    const first: ServiceEvent[] = [];
    const second: ServiceEvent[] = [];
    const stopFirst = transport.subscribe((event) => first.push(event));
    const stopSecond = transport.subscribe((event) => second.push(event));
    await until(() => fetch.mock.calls.length === 1, "the connection");
    stream.push('data: {"event":"lagged","missed":3}\n\n');
    await until(() => first.length === 1 && second.length === 1, "both listeners");
    stopFirst();
    const init = (fetch.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.signal as AbortSignal).aborted).toBe(false);
    stopSecond();
    expect((init.signal as AbortSignal).aborted).toBe(true);
    expect(fetch).toHaveBeenCalledOnce();
  });
});

function fakeLocation(hash: string): Location {
  return { hash, pathname: "/", search: "?x=1" } as Location;
}

describe("the page's secret", () => {
  it("is taken from the fragment, kept in sessionStorage and removed from the address bar", () => {
    const history = { state: null, replaceState: vi.fn() } as unknown as History;
    expect(takeSecret(fakeLocation("#secret=a1B2c3"), history, sessionStorage)).toBe("a1B2c3");
    expect(sessionStorage.getItem("o365-auth.secret")).toBe("a1B2c3");
    expect(history.replaceState).toHaveBeenCalledWith(null, "", "/?x=1");
  });

  it("keeps the rest of the fragment, and survives a reload from sessionStorage", () => {
    const history = { state: null, replaceState: vi.fn() } as unknown as History;
    takeSecret(fakeLocation("#/accounts&secret=ff00"), history, sessionStorage);
    expect(history.replaceState).toHaveBeenCalledWith(null, "", "/?x=1#/accounts");
    const reloaded = { state: null, replaceState: vi.fn() } as unknown as History;
    expect(takeSecret(fakeLocation("#/accounts"), reloaded, sessionStorage)).toBe("ff00");
    expect(reloaded.replaceState).not.toHaveBeenCalled();
  });

  it("picks Tauri in the window, HTTP with a secret, and none without either", async () => {
    const history = { state: null, replaceState: vi.fn() } as unknown as History;
    expect(pickTransport({ inTauri: true }).kind).toBe("tauri");
    expect(pickTransport({ inTauri: false, location: fakeLocation(""), history, storage: sessionStorage }).kind).toBe("none");
    expect(pickTransport({ inTauri: false, location: fakeLocation("#secret=abcd"), history, storage: sessionStorage }).kind).toBe("http");
    expect(pickTransport({ inTauri: false, location: fakeLocation(""), history, storage: sessionStorage }).kind).toBe("http");
  });
});

describe("missingTransport", () => {
  it("refuses every call with no_backend and a plain sentence", async () => {
    const transport = missingTransport();
    expect(transport.kind).toBe("none");
    await expect(transport.call("status")).rejects.toMatchObject({
      code: "no_backend",
      message: expect.stringMatching(/No o365-auth backend is reachable/),
    });
    await expect(transport.copyText("x", null)).rejects.toMatchObject({ code: "no_backend" });
    expect(transport.subscribe(() => undefined)).toBeTypeOf("function");
  });
});
