import { describe, expect, it } from "vitest";
import { settingsChanges, settingsFieldOf, settingsToForm, validateSettings } from "./settingsForm";
import { DEFAULT_SETTINGS } from "./testing/fakeTransport";

describe("settings form", () => {
  it("shows seconds as minutes and null as off", () => {
    const values = settingsToForm({ ...DEFAULT_SETTINGS, refresh_margin_s: 90, clipboard_clear_s: null });
    expect(values.refresh_margin_min).toBe("1.5");
    expect(values.clipboard_clear).toBe(false);
    expect(values.clipboard_clear_s).toBe("30");
  });

  it("accepts the defaults and checks each value against the service's ranges", () => {
    const base = settingsToForm(DEFAULT_SETTINGS);
    expect(validateSettings(base)).toEqual({});
    expect(validateSettings({ ...base, refresh_margin_min: "0.2" }).refresh_margin_min).toMatch(/0.5 to 50/);
    expect(validateSettings({ ...base, refresh_margin_min: "51" }).refresh_margin_min).toBeDefined();
    expect(validateSettings({ ...base, refresh_margin_min: "five" }).refresh_margin_min).toBeDefined();
    expect(validateSettings({ ...base, keep_alive_days: "81" }).keep_alive_days).toMatch(/1 to 80/);
    expect(validateSettings({ ...base, keep_alive_days: "2.5" }).keep_alive_days).toBeDefined();
    expect(validateSettings({ ...base, clipboard_clear_s: "0" }).clipboard_clear_s).toBeDefined();
    expect(validateSettings({ ...base, request_timeout_s: "1" }).request_timeout_s).toMatch(/2 to 600/);
    expect(validateSettings({ ...base, request_timeout_s: "601" }).request_timeout_s).toBeDefined();
    expect(validateSettings({ ...base, request_timeout_s: "30.5" }).request_timeout_s).toBeDefined();
    expect(validateSettings({ ...base, request_timeout_s: "600" }).request_timeout_s).toBeUndefined();
    expect(validateSettings({ ...base, clipboard_clear: false, clipboard_clear_s: "0" }).clipboard_clear_s).toBeUndefined();
  });

  it("wants the proxy as http://host:port, without a password or a path", () => {
    const base = settingsToForm(DEFAULT_SETTINGS);
    expect(validateSettings({ ...base, proxy_url: "http://proxy.example.com:3128" }).proxy_url).toBeUndefined();
    expect(validateSettings({ ...base, proxy_url: "socks5://proxy:1080" }).proxy_url).toMatch(/http:\/\/host:port/);
    expect(validateSettings({ ...base, proxy_url: "http://me:pw@proxy:3128" }).proxy_url).toMatch(/password/);
    expect(validateSettings({ ...base, proxy_url: "http://proxy:3128/path" }).proxy_url).toMatch(/only the host and port/);
    expect(validateSettings({ ...base, proxy_url: "proxy" }).proxy_url).toBeDefined();
  });

  it("sends only what changed, in the wire's units", () => {
    const values = { ...settingsToForm(DEFAULT_SETTINGS), refresh_margin_min: "10", proxy_url: " http://p:3128 ", clipboard_clear: false, request_timeout_s: " 20 " };
    expect(settingsChanges(values, DEFAULT_SETTINGS)).toEqual({ refresh_margin_s: 600, proxy_url: "http://p:3128", clipboard_clear_s: null, request_timeout_s: 20 });
    expect(settingsChanges(settingsToForm(DEFAULT_SETTINGS), DEFAULT_SETTINGS)).toEqual({});
  });

  it("maps the service's field names to the form's", () => {
    expect(settingsFieldOf("refresh_margin_s")).toBe("refresh_margin_min");
    expect(settingsFieldOf("proxy_url")).toBe("proxy_url");
    expect(settingsFieldOf("request_timeout_s")).toBe("request_timeout_s");
    expect(settingsFieldOf("nope")).toBeNull();
  });
});
