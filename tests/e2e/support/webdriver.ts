// A W3C WebDriver client over fetch, for the real app window through tauri-driver and
// WebKitWebDriver (https://v2.tauri.app/develop/tests/webdriver/). Only what the smoke tests use.
import { spawn, type ChildProcess } from "node:child_process";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class WebDriver {
  private constructor(
    private readonly base: string,
    private readonly session: string,
  ) {}

  /** Starts a session: tauri-driver launches `application` with the driver's environment. */
  static async open(port: number, application: string): Promise<WebDriver> {
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const answer = await post(`${base}/session`, {
          capabilities: { alwaysMatch: { "tauri:options": { application } } },
        });
        return new WebDriver(base, String(answer.sessionId));
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  async find(css: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const value = await post(`${this.base}/session/${this.session}/element`, { using: "css selector", value: css });
        // W3C's key; older WebKitWebDriver builds answer with the JSON Wire Protocol's.
        const id = value[ELEMENT] ?? value.ELEMENT;
        if (typeof id !== "string") throw new Error(`unexpected answer ${JSON.stringify(value)}`);
        return id;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`no element ${css}: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async text(css: string): Promise<string> {
    const element = await this.find(css);
    return String(await get(`${this.base}/session/${this.session}/element/${element}/text`));
  }

  async click(css: string): Promise<void> {
    const element = await this.find(css);
    await post(`${this.base}/session/${this.session}/element/${element}/click`, {});
  }

  async type(css: string, text: string): Promise<void> {
    const element = await this.find(css);
    await post(`${this.base}/session/${this.session}/element/${element}/value`, { text });
  }

  async screenshot(): Promise<Buffer> {
    return Buffer.from(String(await get(`${this.base}/session/${this.session}/screenshot`)), "base64");
  }

  async close(): Promise<void> {
    await fetch(`${this.base}/session/${this.session}`, { method: "DELETE" }).catch(() => undefined);
  }
}

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return unwrap(response);
}

async function get(url: string): Promise<unknown> {
  return unwrap(await fetch(url));
}

async function unwrap(response: Response): Promise<Record<string, unknown>> {
  const answer = (await response.json()) as { value: Record<string, unknown> & { error?: string; message?: string } };
  if (!response.ok || answer.value?.error) {
    throw new Error(`${answer.value?.error ?? response.status}: ${answer.value?.message ?? ""}`);
  }
  return answer.value;
}

/** tauri-driver on `port`, proxying to Debian's WebKitWebDriver. */
export function startTauriDriver(binary: string, port: number, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(binary, ["--port", String(port), "--native-driver", "/usr/bin/WebKitWebDriver"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}
