// Which ways of signing in an app's flow allows, in the order offered.
import type { Flow, LoginMethod } from "./api";

export type SignInMethod = LoginMethod | "password";

export interface MethodChoice {
  value: SignInMethod;
  label: string;
  explanation: string;
}

const CHOICES: Record<SignInMethod, MethodChoice> = {
  browser: {
    value: "browser",
    label: "Browser",
    explanation: "Opens Microsoft's sign-in page in your browser; it comes back here by itself.",
  },
  device_code: {
    value: "device_code",
    label: "Device code",
    explanation: "Shows a short code to enter at microsoft.com/devicelogin, on this or any device.",
  },
  console: {
    value: "console",
    label: "Paste the address",
    explanation: "Opens the sign-in page; you paste the address the browser lands on afterwards.",
  },
  password: {
    value: "password",
    label: "Username and password",
    explanation: "Sends the password straight to Microsoft. Fails for accounts with MFA.",
  },
  app: {
    value: "app",
    label: "As the app itself",
    explanation: "Gets an app-only token with the app's secret or certificate; no person signs in.",
  },
};

const BY_FLOW: Record<Flow, SignInMethod[]> = {
  public: ["browser", "device_code", "console"],
  authorization: ["browser", "console"],
  device_code: ["device_code"],
  password: ["password"],
  credentials: ["app"],
};

export function methodsFor(flow: Flow): MethodChoice[] {
  return BY_FLOW[flow].map((method) => CHOICES[method]);
}
