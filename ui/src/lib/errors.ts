// Every failure the UI shows goes through here, so a person reads the same plain words for
// the same problem wherever it happens, with what to do next. Microsoft's AADSTS code, when
// there is one, is more precise than the service's class, so it is looked up first.
import { asBackendError } from "./api";
import { formatDuration } from "./time";

export type Severity = "error" | "warning" | "info";

export interface Explanation {
  title: string;
  /** What happened, in plain words. */
  detail: string;
  /** What the person can do about it. */
  action?: string;
  severity: Severity;
  code: string;
  aadsts?: string;
  correlationId?: string;
  /** The backend's own sentence, for the details. */
  message: string;
  /** Offer to sign in again. */
  signIn?: boolean;
}

type Entry = Omit<Explanation, "code" | "aadsts" | "correlationId" | "message" | "severity"> & { severity?: Severity };

const REDIRECT_URIS =
  "Add http://localhost (browser), o365auth://auth (deep link) and https://login.microsoftonline.com/common/oauth2/nativeclient (paste the address) under Authentication → Mobile and desktop applications.";

const BY_AADSTS: Record<string, Entry> = {
  AADSTS50011: {
    title: "The redirect address is not registered",
    detail: "The app registration in Microsoft Entra does not list the address this sign-in returns to.",
    action: REDIRECT_URIS,
  },
  AADSTS65004: {
    title: "Sign-in cancelled",
    detail: "The permission request was declined, so no account was added.",
    action: "Start again when you are ready, and accept the permissions to continue.",
    severity: "info",
  },
  AADSTS65001: {
    title: "The app needs your permission first",
    detail: "Nobody has granted this app the permissions these scopes need yet.",
    action: "Sign in in the browser and accept the request, or ask an administrator to grant admin consent under API permissions.",
    signIn: true,
  },
  AADSTS7000215: {
    title: "The client secret is wrong",
    detail: "Microsoft did not accept the app's client secret.",
    action: "Copy the secret's Value (not its ID) from Certificates & secrets in Entra, and edit the app here to use it.",
  },
  AADSTS7000222: {
    title: "The client secret has expired",
    detail: "Client secrets last at most two years.",
    action: "Create a new secret under Certificates & secrets in Entra, and edit the app here to use it.",
  },
  AADSTS7000218: {
    title: "Public client flows are switched off",
    detail: "The app registration requires a secret for this kind of sign-in.",
    action: "In Entra, under Authentication → Advanced settings, turn on \"Allow public client flows\".",
  },
  AADSTS50126: {
    title: "Wrong username or password",
    detail: "Microsoft did not accept the username and password.",
    action: "Check them and try again. Accounts with MFA cannot use password sign-in: use the browser instead.",
  },
  AADSTS700016: {
    title: "Microsoft does not know this app",
    detail: "No app with this client ID exists in the tenant.",
    action: "Check the Application (client) ID and the tenant in the app's settings, and that the app is not deleted.",
  },
  AADSTS90002: {
    title: "The tenant does not exist",
    detail: "Microsoft found no tenant with this name or ID.",
    action: "Check the tenant in the app's settings (a GUID, a domain such as contoso.onmicrosoft.com, or common).",
  },
  AADSTS50020: {
    title: "This account cannot use this app",
    detail: "The account is from another organization (or is a personal account), and the app accepts only its own tenant's accounts.",
    action: "Sign in with an account of the app's tenant, or change the app's supported account types in Entra.",
  },
  AADSTS50076: {
    title: "Multi-factor authentication needed",
    detail: "Your organization requires a second factor for this sign-in.",
    action: "Sign in again in the browser (or with a device code) and complete the MFA prompt.",
    signIn: true,
  },
  AADSTS50079: {
    title: "Set up multi-factor authentication",
    detail: "Your organization requires you to register a second factor.",
    action: "Sign in again in the browser and follow the MFA setup.",
    signIn: true,
  },
  AADSTS53003: {
    title: "Blocked by a Conditional Access policy",
    detail: "Your organization's policy does not allow this sign-in from this device, place or app.",
    action: "Ask your administrator which policy applies; the correlation ID below helps them find it.",
  },
  AADSTS700082: {
    title: "The sign-in expired from disuse",
    detail: "The account was not used for 90 days, so Microsoft ended its saved sign-in.",
    action: "Sign in again. A keep-alive in Settings prevents this.",
    signIn: true,
  },
  AADSTS50173: {
    title: "The sign-in was revoked",
    detail: "The password changed or an administrator ended your sessions.",
    action: "Sign in again.",
    signIn: true,
  },
  AADSTS70011: {
    title: "A scope is not valid",
    detail: "Microsoft refused one of the scopes asked for.",
    action: "Check the scopes: each one must belong to one API, written as that API names it.",
  },
  AADSTS650057: {
    title: "The app has no permission for this API",
    detail: "The scopes name an API the app registration does not list.",
    action: "Add the permissions under API permissions in Entra (delegated, for sign-ins as a person).",
  },
  AADSTS50105: {
    title: "You are not assigned to this app",
    detail: "The app requires assignment, and your account is not assigned to it.",
    action: "Ask an administrator to assign you under Enterprise applications → Users and groups.",
  },
  AADSTS9002326: {
    title: "The app is registered as a single-page app",
    detail: "Redirects for single-page apps only work from a browser page, not from this app.",
    action: REDIRECT_URIS,
  },
};

const BY_CODE: Record<string, Entry> = {
  needs_sign_in: {
    title: "Sign in again",
    detail: "Microsoft no longer accepts this account's saved sign-in (it expired, was revoked, or the password changed).",
    action: "Sign in again to get new tokens.",
    signIn: true,
  },
  interaction_required: {
    title: "Microsoft wants you to confirm it's you",
    detail: "Multi-factor authentication or a Conditional Access policy requires you to sign in interactively.",
    action: "Sign in again in the browser (or with a device code) and complete the prompts.",
    signIn: true,
  },
  consent_required: BY_AADSTS.AADSTS65001 as Entry,
  bad_credentials: {
    title: "The app's credentials were refused",
    detail: "Microsoft did not accept the client secret, certificate, or username and password.",
    action: "Check the secret or certificate in the app's settings (secrets expire), or the username and password.",
  },
  app_misconfigured: {
    title: "The app registration needs a change",
    detail: "Microsoft refused the sign-in because of how the app is registered in Entra.",
    action: "The details below name the setting; the guide on the welcome page lists what the app needs.",
  },
  cancelled: {
    title: "Sign-in cancelled",
    detail: "The sign-in was stopped before it finished; nothing was changed.",
    severity: "info",
  },
  sign_in_declined: {
    title: "Sign-in cancelled",
    detail: "The sign-in was declined in the browser, so no account was added.",
    action: "Start again when you are ready.",
    severity: "info",
  },
  access_denied: {
    title: "Sign-in cancelled",
    detail: "The sign-in was declined in the browser, so no account was added.",
    action: "Start again when you are ready.",
    severity: "info",
  },
  code_expired: {
    title: "The code expired",
    detail: "The sign-in took longer than Microsoft allows.",
    action: "Start the sign-in again.",
  },
  throttled: {
    title: "Microsoft asks us to slow down",
    detail: "Too many requests were made for this account in a short time.",
    severity: "warning",
  },
  transient: {
    title: "Microsoft could not be reached",
    detail: "The network or Microsoft's service failed for a moment.",
    action: "Check your connection (and the proxy in Settings); refreshes are retried by themselves.",
    severity: "warning",
  },
  state_mismatch: {
    title: "That address belongs to another sign-in",
    detail: "The answer does not match the sign-in started here (an older tab, or a pasted address from another attempt).",
    action: "Start the sign-in again and finish it in the page it opens.",
  },
  login_pending: {
    title: "Still waiting for the sign-in",
    detail: "The sign-in has not been finished in the browser yet.",
    severity: "info",
  },
  no_account: {
    title: "No such account",
    detail: "The service has no account by that name; it may have been signed out elsewhere.",
  },
  account_ambiguous: {
    title: "Several accounts match",
    detail: "That name could mean more than one account.",
  },
  invalid_input: {
    title: "Not accepted",
    detail: "The service refused a value.",
  },
  no_backend: {
    title: "No backend",
    detail: "This page is not connected to o365-auth.",
    action: "Open it from the desktop app, or from the address `o365-auth daemon --http` prints.",
  },
  backend_unreachable: {
    title: "The daemon does not answer",
    detail: "The o365-auth daemon serving this page is not reachable.",
    action: "Start it again (`o365-auth daemon --http`) and open the address it prints.",
  },
  unauthorized: {
    title: "This page's secret is out of date",
    detail: "The daemon refused the secret this page was opened with; it probably restarted.",
    action: "Open the address the daemon printed again.",
  },
  method_not_found: {
    title: "The service is older than this page",
    detail: "The backend does not offer this feature yet.",
    action: "Update o365-auth and restart it.",
  },
  server_busy: {
    title: "The service is busy",
    detail: "Too many clients are connected right now.",
    action: "Try again in a moment.",
    severity: "warning",
  },
  // The desktop shell's name for the same JSON-RPC code.
  busy: {
    title: "The service is busy",
    detail: "Too many clients are connected right now.",
    action: "Try again in a moment.",
    severity: "warning",
  },
  store_owned: {
    title: "Another o365-auth owns the token store",
    detail: "A daemon or another copy of the app is running with this store.",
    action: "Use that one, or stop it and start this one again.",
  },
  open_failed: {
    title: "The browser did not open",
    detail: "The system could not open the address.",
    action: "Open the link shown here yourself.",
  },
  clipboard_failed: {
    title: "The clipboard refused",
    detail: "Nothing was copied.",
  },
  api_error: {
    title: "The API refused the request",
    detail: "Microsoft's API answered with an error.",
  },
  store_key_mismatch: {
    title: "The token store cannot be opened",
    detail: "The key in the keyring does not match the token store.",
    action: "Unlock the right keyring (or enter the right passphrase) and restart o365-auth.",
  },
};

/** Plain words for a failure, whatever was thrown. */
export function explainError(error: unknown): Explanation {
  const backend = asBackendError(error);
  const aadsts = backend.aadsts?.toUpperCase();
  const entry = (aadsts ? BY_AADSTS[aadsts] : undefined) ?? BY_CODE[backend.code];
  const explanation: Explanation = {
    title: entry?.title ?? "Something went wrong",
    detail: entry?.detail ?? backend.message,
    severity: entry?.severity ?? "error",
    code: backend.code,
    message: backend.message,
  };
  if (entry?.action) explanation.action = entry.action;
  if (entry?.signIn) explanation.signIn = true;
  if (aadsts) explanation.aadsts = aadsts;
  if (backend.correlation_id) explanation.correlationId = backend.correlation_id;
  if (backend.code === "throttled") {
    explanation.action =
      backend.retry_after_s !== undefined
        ? `Try again ${formatDuration(backend.retry_after_s)}.`
        : "Try again in a little while.";
  }
  if (backend.code === "account_ambiguous" && backend.candidates?.length) {
    explanation.action = `Name one of them: ${backend.candidates.join(", ")}.`;
  }
  if (backend.code === "invalid_input" || !entry) {
    // The service's sentence names the field and the reason: nothing here says it better.
    explanation.detail = backend.message;
  }
  return explanation;
}

/** One line, for a toast. */
export function summarizeError(error: unknown): string {
  const explanation = explainError(error);
  const code = explanation.aadsts ?? explanation.code;
  return explanation.action
    ? `${explanation.title}: ${explanation.action} (${code})`
    : `${explanation.title}: ${explanation.detail} (${code})`;
}
