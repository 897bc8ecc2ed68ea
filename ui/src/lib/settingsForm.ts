// Settings as the form shows them (minutes, an "off" switch for the clipboard) and as the
// wire wants them (seconds, null), with the checks made before saving.
import type { Settings } from "./api";

export interface SettingsFormValues {
  refresh_margin_min: string;
  keep_alive_days: string;
  ipc_enabled: boolean;
  start_at_login: boolean;
  notifications: boolean;
  proxy_url: string;
  clipboard_clear: boolean;
  clipboard_clear_s: string;
  request_timeout_s: string;
}

export type SettingsField = keyof SettingsFormValues;
export type SettingsErrors = Partial<Record<SettingsField, string>>;

export function settingsToForm(settings: Settings): SettingsFormValues {
  return {
    refresh_margin_min: String(Math.round((settings.refresh_margin_s / 60) * 10) / 10),
    keep_alive_days: String(settings.keep_alive_days),
    ipc_enabled: settings.ipc_enabled,
    start_at_login: settings.start_at_login,
    notifications: settings.notifications,
    proxy_url: settings.proxy_url ?? "",
    clipboard_clear: settings.clipboard_clear_s !== null,
    clipboard_clear_s: String(settings.clipboard_clear_s ?? 30),
    request_timeout_s: String(settings.request_timeout_s),
  };
}

function number(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d+(?:\.\d+)?$/.test(trimmed)) return null;
  return Number(trimmed);
}

export function validateSettings(values: SettingsFormValues): SettingsErrors {
  const errors: SettingsErrors = {};
  const margin = number(values.refresh_margin_min);
  // Access tokens live about an hour: a longer margin would refresh all the time.
  if (margin === null || margin < 0.5 || margin > 50) {
    errors.refresh_margin_min = "Enter a number of minutes from 0.5 to 50 (access tokens live about an hour).";
  }
  const days = number(values.keep_alive_days);
  // Microsoft ends a refresh token unused for 90 days; the keep-alive has to come well before.
  if (days === null || !Number.isInteger(days) || days < 1 || days > 80) {
    errors.keep_alive_days = "Enter a whole number of days from 1 to 80.";
  }
  const proxy = values.proxy_url.trim();
  if (proxy) {
    let url: URL | null;
    try {
      url = new URL(proxy);
    } catch {
      url = null;
    }
    // Proxies are spoken to in plain HTTP (CONNECT for https), and this setting is not
    // sealed, so no password may be in it.
    if (!url || url.protocol !== "http:" || !url.hostname) {
      errors.proxy_url = "Enter the proxy as http://host:port, or leave it empty.";
    } else if (url.username || url.password) {
      errors.proxy_url = "Leave the user name and password out; a proxy that needs them is set up in the daemon's configuration.";
    } else if ((url.pathname && url.pathname !== "/") || url.search || url.hash) {
      errors.proxy_url = "Give only the host and port, such as http://proxy.example.com:3128.";
    }
  }
  const timeout = number(values.request_timeout_s);
  // The service's range: under 2 s a slow but healthy sign-in would fail; over 10 minutes a
  // dead connection would hold a refresh that long.
  if (timeout === null || !Number.isInteger(timeout) || timeout < 2 || timeout > 600) {
    errors.request_timeout_s = "Enter a whole number of seconds from 2 to 600.";
  }
  if (values.clipboard_clear) {
    const seconds = number(values.clipboard_clear_s);
    if (seconds === null || !Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
      errors.clipboard_clear_s = "Enter a whole number of seconds from 1 to 3600, or switch clearing off.";
    }
  }
  return errors;
}

/** The form as settings.set parameters; only what differs from `current`. */
export function settingsChanges(values: SettingsFormValues, current: Settings): Partial<Settings> {
  const next: Settings = {
    refresh_margin_s: Math.round(Number(values.refresh_margin_min) * 60),
    keep_alive_days: Number(values.keep_alive_days),
    ipc_enabled: values.ipc_enabled,
    start_at_login: values.start_at_login,
    notifications: values.notifications,
    proxy_url: values.proxy_url.trim() || null,
    clipboard_clear_s: values.clipboard_clear ? Number(values.clipboard_clear_s) : null,
    request_timeout_s: Number(values.request_timeout_s),
  };
  const changes: Partial<Settings> = {};
  for (const key of Object.keys(next) as (keyof Settings)[]) {
    if (next[key] !== current[key]) (changes as Record<string, unknown>)[key] = next[key];
  }
  return changes;
}

/** Which form field a settings.set `invalid_input` names. */
export function settingsFieldOf(field: string | undefined): SettingsField | null {
  switch (field) {
    case "refresh_margin_s":
      return "refresh_margin_min";
    case "keep_alive_days":
    case "ipc_enabled":
    case "start_at_login":
    case "notifications":
    case "proxy_url":
    case "clipboard_clear_s":
    case "request_timeout_s":
      return field;
    default:
      return null;
  }
}
