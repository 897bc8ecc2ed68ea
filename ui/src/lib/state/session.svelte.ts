// What the page knows about the service, kept current from its events: every screen reads
// from here instead of fetching on its own, so two screens never disagree.
import { SvelteMap, SvelteSet } from "svelte/reactivity";
import type {
  Account,
  AppRegistration,
  BackendError,
  SandboxStatus,
  ServiceEvent,
  ServiceStatus,
  Settings,
  Transport,
} from "../api";
import { Api, accountKey, asBackendError } from "../api";
import { explainError } from "../errors";
import { Clock } from "./clock.svelte";
import { Toasts } from "./toasts.svelte";

/** A refresh failure the scheduler will retry by itself, and when. */
export interface PendingRetry {
  code: string;
  at: number;
}

const DEFAULT_CLIPBOARD_CLEAR_S = 30;

/** Runs `task` once, a moment after the last of a burst of calls. */
function coalesce(task: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      task();
    }, ms);
  };
}

/** Answers of one kind of request, where an older answer never replaces a newer one. */
class Latest<T> {
  value = $state<T | null>(null);
  error = $state<BackendError | null>(null);
  loaded = $state(false);
  #generation = 0;

  async load(fetch: () => Promise<T>): Promise<void> {
    const mine = ++this.#generation;
    try {
      const value = await fetch();
      if (mine !== this.#generation) return;
      this.value = value;
      this.error = null;
    } catch (error: unknown) {
      if (mine !== this.#generation) return;
      this.error = asBackendError(error);
    } finally {
      if (mine === this.#generation) this.loaded = true;
    }
  }

  /** A value pushed by an event: newer than any answer still on its way. */
  set(value: T): void {
    this.#generation++;
    this.value = value;
    this.error = null;
    this.loaded = true;
  }
}

export class Session {
  readonly api: Api;
  readonly clock = new Clock();
  readonly status = new Latest<ServiceStatus>();
  readonly apps = new Latest<AppRegistration[]>();
  readonly accounts = new Latest<Account[]>();
  readonly sandbox = new Latest<SandboxStatus>();
  readonly settings = new Latest<Settings>();
  /** Accounts (by `APP/username`) with a refresh under way from this page. */
  readonly refreshing = new SvelteSet<string>();
  readonly retries = new SvelteMap<string, PendingRetry>();
  /** Goes up when a token was handed out, so the activity log knows to reload. */
  auditVersion = $state(0);
  /** Whether the event stream has said hello (HTTP) or any event came (Tauri). */
  live = $state(false);

  #subscribedBefore = false;
  #reloadAccounts = coalesce(() => void this.loadAccounts(), 150);
  #reloadApps = coalesce(() => void this.loadApps(), 150);
  #reloadStatus = coalesce(() => void this.loadStatus(), 150);

  constructor(
    readonly transport: Transport,
    readonly toasts: Toasts = new Toasts(),
  ) {
    this.api = new Api(transport);
  }

  /** Loads everything and follows the events; returns the function that stops following. */
  start(): () => void {
    const stop = this.transport.subscribe((event) => this.handle(event));
    // Tauri delivers events as soon as the listener is registered; it sends no hello.
    if (this.transport.kind === "tauri") this.live = true;
    void this.loadAll();
    return stop;
  }

  loadAll(): Promise<void> {
    return Promise.all([
      this.loadStatus(),
      this.loadApps(),
      this.loadAccounts(),
      this.loadSandbox(),
      this.loadSettings(),
    ]).then(() => undefined);
  }

  loadStatus = () => this.status.load(() => this.api.status());
  loadApps = () => this.apps.load(() => this.api.listApps());
  loadAccounts = () => this.accounts.load(() => this.api.listAccounts());
  loadSandbox = () => this.sandbox.load(() => this.api.sandboxStatus());
  loadSettings = () => this.settings.load(() => this.api.getSettings());

  get clipboardClearS(): number | null {
    const settings = this.settings.value;
    return settings ? settings.clipboard_clear_s : DEFAULT_CLIPBOARD_CLEAR_S;
  }

  findAccount(name: string | undefined): Account | undefined {
    if (!name) return undefined;
    const wanted = name.toLowerCase();
    return (this.accounts.value ?? []).find(
      (account) =>
        accountKey(account).toLowerCase() === wanted ||
        account.username.toLowerCase() === wanted ||
        account.id === name,
    );
  }

  /** Applies what an answer taught about one account, until the next list arrives. */
  patchAccount(key: string, patch: Partial<Account>): void {
    const account = this.findAccount(key);
    if (account) Object.assign(account, patch);
  }

  handle(event: ServiceEvent): void {
    if (event.event !== "subscribed") this.live = true;
    const name = typeof event.account === "string" ? event.account : undefined;
    const account = this.findAccount(name);
    const key = account ? accountKey(account) : name;
    switch (event.event) {
      case "subscribed":
        this.live = true;
        // A second hello means the stream reconnected: what happened in between is unknown.
        if (this.#subscribedBefore) void this.loadAll();
        this.#subscribedBefore = true;
        break;
      case "refreshed":
        if (key) {
          this.refreshing.delete(key);
          this.retries.delete(key);
        }
        if (key && typeof event.expires_at === "number") {
          this.patchAccount(key, { expires_at: event.expires_at, status: "fresh" });
        }
        this.#reloadAccounts();
        break;
      case "retry_scheduled":
        if (key && typeof event.retry_in_s === "number") {
          this.retries.set(key, { code: String(event.code ?? "transient"), at: Date.now() / 1000 + event.retry_in_s });
        }
        this.#reloadAccounts();
        break;
      case "needs_attention": {
        if (key) this.refreshing.delete(key);
        const explanation = explainError({ code: String(event.code ?? "needs_sign_in"), message: "" });
        this.toasts.warning(`${name ?? "An account"} — ${explanation.title}. See Accounts.`);
        this.#reloadAccounts();
        break;
      }
      case "token_issued":
        this.auditVersion++;
        break;
      case "account_added":
      case "account_removed":
        this.#reloadAccounts();
        this.#reloadApps();
        this.#reloadStatus();
        break;
      case "app_changed":
        this.#reloadApps();
        break;
      case "settings_changed":
        void this.loadSettings();
        break;
      // The desktop app finished (or refused) a sign-in from an o365auth:// link itself.
      case "deep_link_signed_in": {
        const signedIn = event.account as { username?: string; display_name?: string | null } | undefined;
        this.toasts.success(`Signed in as ${signedIn?.display_name ?? signedIn?.username ?? "a new account"}.`);
        this.#reloadAccounts();
        this.#reloadApps();
        break;
      }
      case "deep_link_refused":
        this.toasts.error(
          { code: String(event.code ?? "backend_error"), message: String(event.message ?? "") },
          "The sign-in from the browser was refused",
        );
        break;
      case "sandbox_changed":
        if (event.status && typeof event.status === "object") this.sandbox.set(event.status as SandboxStatus);
        // Starting the sandbox registers (or refreshes) its app.
        this.#reloadApps();
        break;
      case "clock_jumped":
        this.#reloadAccounts();
        break;
      case "lagged":
        void this.loadAll();
        this.auditVersion++;
        break;
    }
  }
}
