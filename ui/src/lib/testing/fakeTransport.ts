// A scripted, in-memory token service for component tests: it answers the common methods
// from plain data the test can change, records every call, and emits events on demand.
// Override a method with `on()`; throw a BackendError from a handler to make it fail.
import type {
  Account,
  AppRegistration,
  AuditEntry,
  BackendError,
  SandboxStatus,
  ScopeHelper,
  ServiceEvent,
  Settings,
  Transport,
  TransportKind,
} from "../api";

type Params = Record<string, unknown>;
export type Handler = (params: Params) => unknown;

export const HELPERS: ScopeHelper[] = [
  { name: "basic", description: "Sign-in and your profile", scopes: ["User.Read"] },
  { name: "mailbox", description: "Read your mail", scopes: ["Mail.Read"] },
  { name: "message_send", description: "Send mail as you", scopes: ["Mail.Send"] },
  { name: "message_all", description: "Read, write and send mail", scopes: ["Mail.ReadWrite", "Mail.Send"] },
  { name: "calendar", description: "Read your calendars", scopes: ["Calendars.Read"] },
];

export function sampleApp(overrides: Partial<AppRegistration> = {}): AppRegistration {
  return {
    name: "contoso",
    client_id: "9b3c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b11",
    tenant: "contoso.onmicrosoft.com",
    authority: "https://login.microsoftonline.com/",
    flow: "public",
    redirect: "loopback",
    protocol: { kind: "graph", version: "v1.0" },
    default_scopes: ["basic", "mailbox"],
    has_client_secret: false,
    has_certificate: false,
    accounts: 1,
    ...overrides,
  };
}

export function sampleAccount(overrides: Partial<Account> = {}): Account {
  return {
    id: "00000000-0000-0000-0000-0000000000aa.00000000-0000-0000-0000-000000000001",
    username: "adele@contoso.com",
    alias: null,
    display_name: "Adele Vance",
    app: "contoso",
    tenant: "00000000-0000-0000-0000-000000000001",
    status: "fresh",
    expires_at: Math.floor(Date.now() / 1000) + 3000,
    last_refresh_at: Math.floor(Date.now() / 1000) - 600,
    last_error_code: null,
    scopes: ["User.Read", "Mail.Read"],
    ...overrides,
  };
}

export const DEFAULT_SETTINGS: Settings = {
  refresh_margin_s: 300,
  keep_alive_days: 14,
  ipc_enabled: true,
  start_at_login: false,
  notifications: true,
  proxy_url: null,
  clipboard_clear_s: 30,
  request_timeout_s: 60,
};

export const STOPPED_SANDBOX: SandboxStatus = {
  running: false,
  base_url: null,
  app: null,
  demo_username: null,
  demo_password: null,
};

export interface FakeState {
  apps: AppRegistration[];
  accounts: Account[];
  settings: Settings;
  sandbox: SandboxStatus;
  audit: AuditEntry[];
  helpers: ScopeHelper[];
}

export function backendError(code: string, message: string, extra: Partial<BackendError> = {}): BackendError {
  return { code, message, ...extra };
}

function preview(helpers: ScopeHelper[], entries: string[]): { scopes: string[]; unknown: { entry: string; reason: string }[] } {
  const scopes: string[] = [];
  const unknown: { entry: string; reason: string }[] = [];
  for (const entry of entries) {
    const helper = helpers.find((candidate) => candidate.name === entry);
    if (helper) scopes.push(...helper.scopes);
    else if (/[./]/.test(entry)) scopes.push(entry);
    else unknown.push({ entry, reason: `\`${entry}\` is not a scope helper` });
  }
  return { scopes: [...new Set(scopes)], unknown };
}

export class FakeTransport implements Transport {
  readonly calls: { method: string; params: Params }[] = [];
  readonly opened: string[] = [];
  readonly copied: { text: string; clearAfterS: number | null }[] = [];
  readonly state: FakeState;
  #handlers = new Map<string, Handler>();
  #listeners = new Set<(event: ServiceEvent) => void>();

  constructor(
    state: Partial<FakeState> = {},
    readonly kind: TransportKind = "tauri",
  ) {
    this.state = {
      apps: [],
      accounts: [],
      settings: { ...DEFAULT_SETTINGS },
      sandbox: { ...STOPPED_SANDBOX },
      audit: [],
      helpers: HELPERS,
      ...state,
    };
    const s = this.state;
    this.on("status", () => ({ version: "0.1.0", pid: 4242, accounts: s.accounts.length }));
    this.on("apps.list", () => s.apps);
    this.on("accounts.list", () => s.accounts);
    this.on("sandbox.status", () => s.sandbox);
    this.on("settings.get", () => s.settings);
    this.on("settings.set", (params) => (s.settings = { ...s.settings, ...params }));
    this.on("scopes.helpers", () => s.helpers);
    this.on("scopes.preview", (params) => preview(s.helpers, (params.scopes as string[] | undefined) ?? []));
    this.on("audit.recent", (params) =>
      s.audit.filter((entry) => !params.account || entry.account === params.account).slice(0, Number(params.limit ?? 100)),
    );
  }

  on(method: string, handler: Handler): this {
    this.#handlers.set(method, handler);
    return this;
  }

  callsTo(method: string): Params[] {
    return this.calls.filter((call) => call.method === method).map((call) => call.params);
  }

  emit(event: ServiceEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  async call<T>(method: string, params: Params = {}): Promise<T> {
    const wire = <V>(value: V): V => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as V));
    this.calls.push({ method, params: wire(params) });
    const handler = this.#handlers.get(method);
    if (!handler) throw backendError("method_not_found", `no method ${method}`);
    // Copies, like JSON over a wire: the page must not share objects with the "service".
    return wire(await handler(wire(params))) as T;
  }

  subscribe(listener: (event: ServiceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async openUrl(url: string): Promise<void> {
    this.opened.push(url);
  }

  async copyText(text: string, clearAfterS: number | null): Promise<void> {
    this.copied.push({ text, clearAfterS });
  }
}
