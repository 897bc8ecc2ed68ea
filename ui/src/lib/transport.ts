// One JSON-RPC transport to the token service, picked at run time: Tauri's IPC inside the app
// window, the daemon's HTTP API (`o365-auth daemon --http`) in a normal browser, or none.
import { invoke, isTauri } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { BackendError, ServiceEvent, Transport } from "./api";
import { SseParser } from "./sse";

type Invoke = (command: string, args?: Record<string, unknown>) => Promise<unknown>;
type Listen = (event: string, handler: (event: { payload: unknown }) => void) => Promise<() => void>;

const RPC_CODE_NAMES: Record<number, string> = {
  [-32700]: "parse_error",
  [-32600]: "invalid_request",
  [-32601]: "method_not_found",
  [-32602]: "invalid_params",
  [-32603]: "internal_error",
  [-32001]: "server_busy",
  [-32000]: "service_error",
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A JSON-RPC error object (`{code, message, data}`), or what the Tauri command rejected
 * with, as a BackendError: the stable machine code from `data.code` wins over the number.
 */
export function toBackendError(raw: unknown): BackendError {
  if (!isObject(raw)) {
    return { code: "backend_error", message: typeof raw === "string" && raw ? raw : "The backend refused the request." };
  }
  const data = isObject(raw.data) ? raw.data : {};
  const pick = (key: string): unknown => data[key] ?? raw[key];
  let code = "backend_error";
  if (typeof data.code === "string") code = data.code;
  else if (typeof raw.code === "string") code = raw.code;
  else if (typeof raw.code === "number") code = RPC_CODE_NAMES[raw.code] ?? `rpc_error_${raw.code}`;
  const error: BackendError = {
    code,
    message: typeof raw.message === "string" && raw.message ? raw.message : "The backend refused the request.",
  };
  for (const key of ["aadsts", "correlation_id", "field"] as const) {
    const value = pick(key);
    if (typeof value === "string" && value) error[key] = value;
  }
  const retry = pick("retry_after_s");
  if (typeof retry === "number") error.retry_after_s = retry;
  const candidates = pick("candidates");
  if (Array.isArray(candidates)) error.candidates = candidates.filter((item): item is string => typeof item === "string");
  return error;
}

function parseEvent(payload: unknown): ServiceEvent | null {
  return isObject(payload) && typeof payload.event === "string" ? (payload as ServiceEvent) : null;
}

/** Inside the app window: the shell's `rpc` command and its `service-event` events. */
export function tauriTransport(invokeCommand: Invoke, listenTo: Listen): Transport {
  return {
    kind: "tauri",
    async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      try {
        return (await invokeCommand("rpc", { method, params })) as T;
      } catch (raw: unknown) {
        throw toBackendError(raw);
      }
    },
    subscribe(listener) {
      let stopped = false;
      let stop: (() => void) | null = null;
      listenTo("service-event", (message) => {
        const event = parseEvent(message.payload);
        if (event && !stopped) listener(event);
      }).then(
        (unlisten) => {
          if (stopped) unlisten();
          else stop = unlisten;
        },
        () => undefined,
      );
      return () => {
        stopped = true;
        stop?.();
      };
    },
    async openUrl(url) {
      try {
        await invokeCommand("open_url", { url });
      } catch (raw: unknown) {
        throw toBackendError(raw);
      }
    },
    async copyText(text, clearAfterS) {
      try {
        await invokeCommand("copy_text", { text, clearAfterS });
      } catch (raw: unknown) {
        throw toBackendError(raw);
      }
    },
  };
}

export interface HttpOptions {
  secret: string;
  /** Where the daemon answers; "" is the page's own origin, which serves it. */
  baseUrl?: string;
  fetch?: typeof fetch;
  clipboard?: Pick<Clipboard, "writeText" | "readText">;
  open?: (url: string) => void;
  /** Reconnect delays for the event stream, doubling from the first to the cap. */
  reconnectMs?: { first: number; max: number };
}

/** In a browser: the daemon's `POST /rpc` and `GET /events`, with the page's secret. */
export function httpTransport(options: HttpOptions): Transport {
  const base = options.baseUrl ?? "";
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const authorization = `Bearer ${options.secret}`;
  const reconnect = options.reconnectMs ?? { first: 1000, max: 30_000 };
  let nextId = 1;
  const listeners = new Set<(event: ServiceEvent) => void>();
  let streamAbort: AbortController | null = null;

  const unreachable = (): BackendError => ({
    code: "backend_unreachable",
    message: "The o365-auth daemon did not answer. Is `o365-auth daemon --http` still running?",
  });

  async function call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = nextId++;
    let response: Response;
    try {
      response = await doFetch(`${base}/rpc`, {
        method: "POST",
        headers: { Authorization: authorization, "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      });
    } catch {
      throw unreachable();
    }
    if (response.status === 401) {
      throw {
        code: "unauthorized",
        message: "The daemon no longer accepts this page's secret (it restarted?). Open the address it printed again.",
      } satisfies BackendError;
    }
    let answer: unknown;
    try {
      answer = await response.json();
    } catch {
      throw { code: `http_${response.status}`, message: `The daemon answered HTTP ${response.status} without JSON-RPC.` } satisfies BackendError;
    }
    if (!isObject(answer)) throw { code: "protocol", message: "The daemon's answer is not a JSON-RPC response." } satisfies BackendError;
    if ("error" in answer) throw toBackendError(answer.error);
    return answer.result as T;
  }

  function dispatch(data: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const event = parseEvent(parsed);
    if (event) for (const listener of [...listeners]) listener(event);
  }

  function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // One stream for every listener; it reconnects until the last listener leaves.
  async function stream(signal: AbortSignal): Promise<void> {
    let delay = reconnect.first;
    while (!signal.aborted) {
      try {
        const response = await doFetch(`${base}/events`, {
          headers: { Authorization: authorization, Accept: "text/event-stream" },
          signal,
        });
        if (response.ok && response.body) {
          const reader = response.body.getReader();
          const parser = new SseParser((data) => {
            delay = reconnect.first;
            dispatch(data);
          });
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            parser.push(value);
          }
        }
      } catch {
        // The daemon restarted or the network dropped: wait, then try again.
      }
      if (signal.aborted) return;
      await sleep(delay, signal);
      delay = Math.min(delay * 2, reconnect.max);
    }
  }

  return {
    kind: "http",
    call,
    subscribe(listener) {
      listeners.add(listener);
      if (!streamAbort) {
        streamAbort = new AbortController();
        void stream(streamAbort.signal);
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && streamAbort) {
          streamAbort.abort();
          streamAbort = null;
        }
      };
    },
    async openUrl(url) {
      (options.open ?? ((address) => window.open(address, "_blank", "noopener")))(url);
    },
    async copyText(text, clearAfterS) {
      const clipboard = options.clipboard ?? navigator.clipboard;
      await clipboard.writeText(text);
      if (clearAfterS === null) return;
      setTimeout(() => {
        // Best effort: only clear what we put there; a browser may refuse to let us read.
        clipboard.readText().then(
          (current) => (current === text ? clipboard.writeText("") : undefined),
          () => undefined,
        );
      }, clearAfterS * 1000);
    },
  };
}

/** Used when the page has no backend at all (e.g. `vite dev` alone). */
export function missingTransport(): Transport {
  const refuse = (): Promise<never> =>
    Promise.reject({
      code: "no_backend",
      message:
        "No o365-auth backend is reachable from this page. Open it from the desktop app, or from the address `o365-auth daemon --http` prints.",
    } satisfies BackendError);
  return {
    kind: "none",
    call: refuse,
    subscribe: () => () => undefined,
    openUrl: refuse,
    copyText: refuse,
  };
}

const SECRET_KEY = "o365-auth.secret";

/**
 * The daemon hands the page its secret in the URL fragment (never sent to a server). It is
 * kept for the tab's life in sessionStorage, so a reload still works, and taken out of the
 * address bar so it is not bookmarked, shared or kept in history.
 */
export function takeSecret(location: Location, history: History, storage: Storage): string | null {
  const hash = location.hash.replace(/^#/, "");
  const parts = hash.split("&");
  const found = parts.find((part) => /^secret=[0-9a-fA-F]+$/.test(part));
  if (!found) {
    try {
      return storage.getItem(SECRET_KEY);
    } catch {
      return null;
    }
  }
  const secret = found.slice("secret=".length);
  try {
    storage.setItem(SECRET_KEY, secret);
  } catch {
    // Storage switched off: this page load still works, a reload will not.
  }
  const rest = parts.filter((part) => part !== found).join("&");
  history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  return secret;
}

export interface PickOptions {
  inTauri?: boolean;
  location?: Location;
  history?: History;
  storage?: Storage;
}

export function pickTransport(options: PickOptions = {}): Transport {
  if (options.inTauri ?? isTauri()) {
    return tauriTransport((command, args) => invoke(command, args), (event, handler) => listen(event, handler));
  }
  const secret = takeSecret(
    options.location ?? window.location,
    options.history ?? window.history,
    options.storage ?? window.sessionStorage,
  );
  return secret ? httpTransport({ secret }) : missingTransport();
}
