// The backend contract: the token service's JSON-RPC methods (docs/ipc.md plus the UI's
// methods), typed. Shapes are snake_case exactly as on the wire, so what a test scripts is
// what the daemon sends. Every transport carries the same calls; `Api` only adds types.

export type TransportKind = "tauri" | "http" | "none";

export interface BackendError {
  code: string;
  message: string;
  aadsts?: string;
  correlation_id?: string;
  field?: string;
  retry_after_s?: number;
  candidates?: string[];
}

/**
 * The `params` of an IPC `event` notification; `event` names which. `account` is usually the
 * `APP/username` name, but the desktop's `deep_link_signed_in` carries the whole account.
 */
export interface ServiceEvent {
  event: string;
  account?: unknown;
  [key: string]: unknown;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Resolves with the JSON-RPC result; rejects with a BackendError. */
  call<T>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Service events as they come; returns the function that stops listening. */
  subscribe(listener: (event: ServiceEvent) => void): () => void;
  /** Opens the address in the system browser. */
  openUrl(url: string): Promise<void>;
  /** Puts text on the clipboard, cleared after `clearAfterS` seconds unless null. */
  copyText(text: string, clearAfterS: number | null): Promise<void>;
}

export type Flow = "authorization" | "public" | "credentials" | "password" | "device_code";
export type RedirectKind = "loopback" | "deep_link" | "native_client" | "none";

export type ProtocolSpec =
  | { kind: "graph"; version?: "v1.0" | "beta" | null }
  | { kind: "business_central"; environment: string; tenant_in_url?: boolean }
  | { kind: "custom"; url: string; api_version: string };

export interface ServiceStatus {
  version: string;
  pid: number;
  accounts: number;
  started_at?: number;
  apps?: number;
  scheduler?: { tracked: number; next_refresh_at: number | null };
}

export type AccountStatus = "fresh" | "needs_sign_in" | "interaction_required" | "error";

export interface Account {
  id: string;
  username: string;
  alias: string | null;
  display_name: string | null;
  app: string;
  tenant: string;
  status: AccountStatus;
  expires_at: number | null;
  last_refresh_at: number | null;
  last_error_code: string | null;
  /** Granted scopes, named as in token.get. */
  scopes?: string[];
  last_used_at?: number | null;
}

export interface AppRegistration {
  name: string;
  client_id: string;
  tenant: string;
  /** The sign-in host as a URL, e.g. https://login.microsoftonline.com/ */
  authority: string;
  flow: Flow;
  redirect: RedirectKind;
  protocol?: ProtocolSpec | null;
  default_scopes: string[];
  has_client_secret: boolean;
  has_certificate: boolean;
  accounts: number;
  source?: string;
}

/** What apps.add takes; apps.update takes `name` plus any subset of the rest, and `new_name`. */
export interface AppParams {
  name: string;
  new_name?: string;
  client_id: string;
  tenant: string;
  flow: Flow;
  authority?: string;
  redirect?: RedirectKind;
  protocol?: ProtocolSpec;
  default_scopes?: string[];
  client_secret?: string | null;
  certificate_pem?: string;
  pkcs12_base64?: string;
  pkcs12_password?: string;
  /** apps.update only: drop the stored certificate (it is used before a secret). */
  remove_certificate?: boolean;
}

export interface SandboxStatus {
  running: boolean;
  base_url: string | null;
  app: string | null;
  demo_username: string | null;
  demo_password: string | null;
}

export interface ScopeHelper {
  name: string;
  description: string;
  scopes: string[];
}

/** An entry that is neither a helper nor a scope; the service says why. */
export interface UnknownScope {
  entry: string;
  reason?: string;
}

export interface ScopePreview {
  scopes: string[];
  unknown: UnknownScope[];
}

export interface IssuedToken {
  access_token: string;
  token_type: string;
  expires_at: number;
  scopes: string[];
  account: string;
}

export type LoginMethod = "browser" | "device_code" | "console" | "app";

export interface LoginStartParams {
  app?: string;
  scopes?: string[];
  method: LoginMethod;
  login_hint?: string;
  prompt?: string;
}

export interface LoginChallenge {
  login: string;
  url?: string;
  user_code?: string;
  verification_uri?: string;
  message?: string;
  expires_at?: number;
}

export type AuditChannel = "ipc" | "http" | "app" | "cli";

export interface AuditEntry {
  /** When the last of `times` identical hand-outs happened. */
  at: number;
  /** How many identical hand-outs this entry counts (the service merges repeats). */
  times: number;
  account: string;
  app?: string;
  scopes: string[];
  channel: AuditChannel;
  pid: number | null;
  uid: number | null;
  exe: string | null;
}

export interface Settings {
  refresh_margin_s: number;
  keep_alive_days: number;
  ipc_enabled: boolean;
  start_at_login: boolean;
  notifications: boolean;
  proxy_url: string | null;
  clipboard_clear_s: number | null;
  request_timeout_s: number;
}

/** The name that always means one account: events carry it too. */
export function accountKey(account: Pick<Account, "app" | "username">): string {
  return `${account.app}/${account.username}`;
}

export class Api {
  constructor(readonly transport: Transport) {}

  status = () => this.transport.call<ServiceStatus>("status");

  listAccounts = () => this.transport.call<Account[]>("accounts.list");
  setAlias = (account: string, alias: string | null) =>
    this.transport.call<Account>("accounts.alias", { account, alias });
  logout = (account: string) => this.transport.call<{ removed: boolean }>("accounts.logout", { account });

  getToken = (account: string) => this.transport.call<IssuedToken>("token.get", { account });
  refreshToken = (account: string) => this.transport.call<IssuedToken>("token.refresh", { account });

  listApps = () => this.transport.call<AppRegistration[]>("apps.list");
  addApp = (params: AppParams) =>
    this.transport.call<AppRegistration>("apps.add", params as unknown as Record<string, unknown>);
  /** `name` is the app's current name; the changes may rename it. */
  updateApp = (name: string, changes: Partial<AppParams>) =>
    this.transport.call<AppRegistration>("apps.update", { ...changes, name });
  removeApp = (name: string) => this.transport.call<unknown>("apps.remove", { name });

  startLogin = (params: LoginStartParams) =>
    this.transport.call<LoginChallenge>("login.start", params as unknown as Record<string, unknown>);
  waitLogin = (login: string, timeout_s = 600) => this.transport.call<Account>("login.wait", { login, timeout_s });
  completeLogin = (login: string, redirected_url: string) =>
    this.transport.call<Account>("login.complete", { login, redirected_url });
  cancelLogin = (login: string) => this.transport.call<{ cancelled: boolean }>("login.cancel", { login });
  passwordLogin = (params: { app?: string; username: string; password: string; scopes?: string[] }) =>
    this.transport.call<Account>("login.password", params);

  scopeHelpers = (protocol?: ProtocolSpec) =>
    this.transport.call<ScopeHelper[]>("scopes.helpers", protocol ? { protocol } : {});
  previewScopes = async (scopes: string[], protocol?: ProtocolSpec): Promise<ScopePreview> => {
    const answer = await this.transport.call<{ scopes: string[]; unknown: (string | UnknownScope)[] }>(
      "scopes.preview",
      protocol ? { protocol, scopes } : { scopes },
    );
    // The contract first listed unknown entries as strings; the service sends them with a reason.
    const unknown = answer.unknown.map((item) => (typeof item === "string" ? { entry: item } : item));
    return { scopes: answer.scopes, unknown };
  };

  recentAudit = (params: { limit?: number; account?: string } = {}) =>
    this.transport.call<AuditEntry[]>("audit.recent", params);

  getSettings = () => this.transport.call<Settings>("settings.get");
  setSettings = (changes: Partial<Settings>) => this.transport.call<Settings>("settings.set", changes);

  sandboxStatus = () => this.transport.call<SandboxStatus>("sandbox.status");
  startSandbox = () => this.transport.call<SandboxStatus>("sandbox.start");
  stopSandbox = () => this.transport.call<SandboxStatus>("sandbox.stop");
}

export function isBackendError(value: unknown): value is BackendError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string" &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

/** The error as a BackendError, whatever was thrown (a bug in the UI included). */
export function asBackendError(error: unknown): BackendError {
  if (isBackendError(error)) return error;
  if (error instanceof Error) return { code: "ui_error", message: error.message };
  return { code: "ui_error", message: String(error) };
}
