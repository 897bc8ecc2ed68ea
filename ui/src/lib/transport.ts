import { invoke, isTauri } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { AppInfo, SandboxStatus, Transport } from "./api";

type Invoke = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;
type Listen = <T>(event: string, handler: (event: { payload: T }) => void) => Promise<() => void>;

/** Talks to the Rust commands of the desktop shell. */
export function tauriTransport(invoke: Invoke, listen: Listen): Transport {
  return {
    kind: "tauri",
    appInfo: () => invoke<AppInfo>("app_info"),
    sandboxStatus: () => invoke<SandboxStatus>("sandbox_status"),
    sandboxStart: () => invoke<SandboxStatus>("sandbox_start"),
    sandboxStop: () => invoke<SandboxStatus>("sandbox_stop"),
    onSandboxChanged(listener) {
      const unlisten = listen<SandboxStatus>("sandbox-changed", (event) => listener(event.payload));
      return () => void unlisten.then((stop) => stop());
    },
  };
}

/** Used when the page is opened with no backend at all (e.g. `vite dev` alone). */
export function missingTransport(): Transport {
  const fail = (): Promise<never> =>
    Promise.reject({
      code: "no_backend",
      message: "No o365-auth backend is reachable from this page. Open it from the desktop app.",
    });
  return {
    kind: "none",
    appInfo: fail,
    sandboxStatus: fail,
    sandboxStart: fail,
    sandboxStop: fail,
    onSandboxChanged: () => () => undefined,
  };
}

/**
 * The transport is chosen at run time: Tauri's IPC inside the app window, none elsewhere
 * (the daemon's HTTP transport arrives with the token service).
 */
export function pickTransport(inTauri: boolean = isTauri()): Transport {
  return inTauri ? tauriTransport(invoke, listen) : missingTransport();
}
