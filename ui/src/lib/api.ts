// The backend contract shared by every transport. Field names match the Rust structs
// (serde renames to camelCase there), so both transports return the same shapes.

export interface AppInfo {
  name: string;
  version: string;
  /** Which process answers: the desktop shell or the headless daemon. */
  backend: "desktop" | "daemon";
}

export interface SandboxStatus {
  running: boolean;
  /** Base URL of the emulator, e.g. http://127.0.0.1:47615, when running. */
  baseUrl: string | null;
  /** Discovery document URL the core would use as its authority. */
  discoveryUrl: string | null;
  demoUsername: string | null;
  demoPassword: string | null;
  demoClientId: string | null;
  tenantId: string | null;
}

export interface BackendError {
  code: string;
  message: string;
}

export interface Transport {
  readonly kind: "tauri" | "http" | "none";
  appInfo(): Promise<AppInfo>;
  sandboxStatus(): Promise<SandboxStatus>;
  sandboxStart(): Promise<SandboxStatus>;
  sandboxStop(): Promise<SandboxStatus>;
  /** Calls `listener` when the sandbox changes outside this page (e.g. from the tray); returns an unsubscribe function. */
  onSandboxChanged(listener: (status: SandboxStatus) => void): () => void;
}

export function isBackendError(value: unknown): value is BackendError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string" &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

/** Plain words for a person, whatever was thrown. */
export function describeError(error: unknown): string {
  if (isBackendError(error)) return `${error.message} (${error.code})`;
  if (error instanceof Error) return error.message;
  return String(error);
}
