// The app registration form as data: what each choice means, the checks made before anything
// is sent (the service checks again, and its `invalid_input` answers land on the same fields),
// and the exact apps.add / apps.update parameters. No Svelte here, so it is tested directly.
import type { AppParams, AppRegistration, Flow, ProtocolSpec, RedirectKind } from "./api";

export type CloudChoice = "public" | "us_gov" | "us_gov_dod" | "china" | "custom";
/** In an edit, "keep" leaves the stored credential alone and "none" removes the secret. */
export type CredentialChoice = "keep" | "secret" | "certificate" | "none";

export type CertificateFile =
  | { kind: "pem"; fileName: string; pem: string }
  | { kind: "pkcs12"; fileName: string; base64: string };

export interface AppFormValues {
  name: string;
  client_id: string;
  tenant: string;
  cloud: CloudChoice;
  custom_url: string;
  flow: Flow;
  redirect: RedirectKind;
  protocol: ProtocolSpec;
  default_scopes: string[];
  credential: CredentialChoice;
  client_secret: string;
  certificate: CertificateFile | null;
  pkcs12_password: string;
}

export type AppField =
  | "name"
  | "client_id"
  | "tenant"
  | "cloud"
  | "custom_url"
  | "flow"
  | "redirect"
  | "protocol"
  | "default_scopes"
  | "credential"
  | "client_secret"
  | "certificate"
  | "pkcs12_password";

export type FieldErrors = Partial<Record<AppField, string>>;

export const FLOWS: { value: Flow; label: string; explanation: string }[] = [
  {
    value: "public",
    label: "Public client",
    explanation: "Sign in as a person in the browser or with a device code; no secret. The usual choice for a desktop.",
  },
  {
    value: "authorization",
    label: "Authorization code with a secret",
    explanation: "Sign in as a person in the browser, for an app registered with a client secret or certificate.",
  },
  {
    value: "device_code",
    label: "Device code",
    explanation: "Enter a short code on any device with a browser; for when no browser can open here.",
  },
  {
    value: "credentials",
    label: "Client credentials (app only)",
    explanation: "The app signs in as itself, no person, with a secret or certificate and application permissions.",
  },
  {
    value: "password",
    label: "Username and password",
    explanation: "Sends a password straight to Microsoft; fails with MFA. Not recommended.",
  },
];

export const CLOUDS: { value: CloudChoice; label: string }[] = [
  { value: "public", label: "Microsoft global" },
  { value: "us_gov", label: "US Government (GCC High)" },
  { value: "us_gov_dod", label: "US Government DoD" },
  { value: "china", label: "China (operated by 21Vianet)" },
  { value: "custom", label: "Custom authority URL" },
];

export const REDIRECTS: { value: RedirectKind; label: string; uri: string; explanation: string }[] = [
  {
    value: "loopback",
    label: "Loopback",
    uri: "http://localhost",
    explanation: "The browser comes back to this computer by itself. Recommended.",
  },
  {
    value: "deep_link",
    label: "Deep link",
    uri: "o365auth://auth",
    explanation: "The browser hands the answer to the desktop app.",
  },
  {
    value: "native_client",
    label: "Paste the address",
    uri: "https://login.microsoftonline.com/common/oauth2/nativeclient",
    explanation: "You copy the address the browser lands on and paste it here.",
  },
];

export function usesRedirect(flow: Flow): boolean {
  return flow === "public" || flow === "authorization";
}

export function needsCredential(flow: Flow): boolean {
  return flow === "authorization" || flow === "credentials";
}

/**
 * Where on the form to show a problem with `field`, given what the form shows now (a secret
 * problem while a certificate is chosen belongs to the credential choice), or null when no
 * field shown fits and the problem belongs to the whole form.
 */
export function shownFieldFor(field: AppField, values: AppFormValues): AppField | null {
  const credential = needsCredential(values.flow);
  switch (field) {
    case "client_secret":
      return credential ? (values.credential === "secret" ? "client_secret" : "credential") : null;
    case "certificate":
    case "pkcs12_password":
      if (!credential) return null;
      if (values.credential !== "certificate") return "credential";
      return field === "pkcs12_password" && values.certificate?.kind !== "pkcs12" ? "certificate" : field;
    case "credential":
      return credential ? "credential" : null;
    case "redirect":
      return usesRedirect(values.flow) ? "redirect" : null;
    case "cloud":
    case "custom_url":
      return values.cloud === "custom" ? "custom_url" : "cloud";
    default:
      return field;
  }
}

function needsSpecificTenant(flow: Flow): boolean {
  return flow === "credentials" || flow === "password";
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const WELL_KNOWN_TENANTS = ["common", "organizations", "consumers"];

export function isGuid(value: string): boolean {
  return GUID.test(value.trim());
}

/** A DNS name of at least two labels, as the service's tenant check accepts. */
export function isDomain(value: string): boolean {
  const labels = value.split(".");
  return (
    value.length <= 253 &&
    labels.length >= 2 &&
    labels.every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label)) &&
    /[A-Za-z]/.test(labels[labels.length - 1] ?? "")
  );
}

function checkAuthorityUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return "Enter the full address, such as https://login.example.com/.";
  }
  const loopback = url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    return "The address must start with https:// (plain http only for an emulator on this computer).";
  }
  if (url.username || url.password) return "The address must not contain a username or password.";
  if (url.search || url.hash) return "The address must not have a query (?) or fragment (#).";
  return undefined;
}

export interface ValidationContext {
  mode: "add" | "edit";
  original?: AppRegistration;
  /** Names of the other apps, which this one must not repeat. */
  otherNames: string[];
}

export function validateAppForm(values: AppFormValues, context: ValidationContext): FieldErrors {
  const errors: FieldErrors = {};
  const name = values.name.trim();
  if (!name) errors.name = "Give the app a name, such as contoso.";
  else if (name.length > 100) errors.name = "Keep the name under 100 characters.";
  else if (name.includes("/")) errors.name = "The name cannot contain “/” (it separates app and account in names).";
  else if (context.otherNames.some((other) => other.toLowerCase() === name.toLowerCase())) {
    errors.name = "Another app already has this name.";
  }

  if (!values.client_id.trim()) errors.client_id = "Paste the Application (client) ID from the app's Overview page in Entra.";
  else if (!isGuid(values.client_id)) {
    errors.client_id = "The client ID is a GUID such as 9b3c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b11.";
  }

  const tenant = values.tenant.trim();
  const wellKnown = WELL_KNOWN_TENANTS.includes(tenant.toLowerCase());
  if (!tenant) errors.tenant = "Enter common, organizations, consumers, a tenant ID or a domain.";
  else if (!wellKnown && !isGuid(tenant) && !isDomain(tenant)) {
    errors.tenant = "Use common, organizations, consumers, a tenant ID (GUID) or a domain such as contoso.onmicrosoft.com.";
  } else if (wellKnown && needsSpecificTenant(values.flow)) {
    errors.tenant = "This flow needs your tenant itself: its ID (GUID) or domain, not common, organizations or consumers.";
  }

  if (values.cloud === "custom") {
    const problem = values.custom_url.trim() ? checkAuthorityUrl(values.custom_url) : "Enter the authority's address.";
    if (problem) errors.custom_url = problem;
  }

  if (values.protocol.kind === "business_central" && !/^[A-Za-z0-9_-]+$/.test(values.protocol.environment.trim())) {
    errors.protocol = "Enter the Business Central environment name, such as production.";
  }

  if (values.default_scopes.some((scope) => /\s/.test(scope.trim()) || !scope.trim())) {
    errors.default_scopes = "Each scope is one word; separate scopes with spaces or commas.";
  }

  if (needsCredential(values.flow)) {
    const hasStored = Boolean(context.original && (context.original.has_client_secret || context.original.has_certificate));
    if (values.credential === "secret" && !values.client_secret) {
      errors.client_secret = "Paste the secret's Value from Certificates & secrets in Entra.";
    } else if (values.credential === "certificate" && !values.certificate) {
      errors.certificate = "Choose the certificate file (PEM with its private key, or .p12/.pfx).";
    } else if ((values.credential === "keep" && !hasStored) || values.credential === "none") {
      errors.credential = "This flow needs a client secret or a certificate.";
    }
  }
  if (values.certificate?.kind === "pem" && needsCredential(values.flow) && values.credential === "certificate") {
    if (!values.certificate.pem.includes("-----BEGIN CERTIFICATE-----")) {
      errors.certificate = "This file has no certificate (-----BEGIN CERTIFICATE-----).";
    } else if (!/-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(values.certificate.pem)) {
      errors.certificate = "This file has the certificate but not its private key; put both in one PEM file.";
    }
  }
  return errors;
}

export function emptyForm(): AppFormValues {
  return {
    name: "",
    client_id: "",
    tenant: "common",
    cloud: "public",
    custom_url: "",
    flow: "public",
    redirect: "loopback",
    protocol: { kind: "graph", version: "v1.0" },
    default_scopes: ["basic"],
    credential: "secret",
    client_secret: "",
    certificate: null,
    pkcs12_password: "",
  };
}

/** Which cloud a registration's sign-in host means. */
export function cloudOf(authority: string): { cloud: CloudChoice; custom_url: string } {
  let host: string;
  try {
    host = new URL(authority).hostname;
  } catch {
    return { cloud: "public", custom_url: "" };
  }
  if (!authority || host === "login.microsoftonline.com") return { cloud: "public", custom_url: "" };
  // The DoD cloud signs in on the same host as GCC High; the list cannot tell them apart.
  if (host === "login.microsoftonline.us") return { cloud: "us_gov", custom_url: "" };
  if (host === "login.partner.microsoftonline.cn" || host === "login.chinacloudapi.cn") {
    return { cloud: "china", custom_url: "" };
  }
  return { cloud: "custom", custom_url: authority };
}

export function fromApp(app: AppRegistration): AppFormValues {
  const { cloud, custom_url } = cloudOf(app.authority);
  return {
    name: app.name,
    client_id: app.client_id,
    tenant: app.tenant,
    cloud,
    custom_url,
    flow: app.flow,
    redirect: app.redirect === "none" ? "loopback" : app.redirect,
    protocol: app.protocol ?? { kind: "graph", version: "v1.0" },
    default_scopes: [...app.default_scopes],
    credential: app.has_client_secret || app.has_certificate ? "keep" : "secret",
    client_secret: "",
    certificate: null,
    pkcs12_password: "",
  };
}

function authorityParam(values: AppFormValues): string {
  return values.cloud === "custom" ? values.custom_url.trim() : values.cloud;
}

function credentialParams(values: AppFormValues): Partial<AppParams> {
  if (!needsCredential(values.flow)) return {};
  if (values.credential === "secret" && values.client_secret) return { client_secret: values.client_secret };
  if (values.credential === "certificate" && values.certificate) {
    return values.certificate.kind === "pem"
      ? { certificate_pem: values.certificate.pem }
      : { pkcs12_base64: values.certificate.base64, pkcs12_password: values.pkcs12_password };
  }
  return {};
}

export function toAddParams(values: AppFormValues): AppParams {
  const params: AppParams = {
    name: values.name.trim(),
    client_id: values.client_id.trim(),
    tenant: values.tenant.trim(),
    flow: values.flow,
    protocol: values.protocol,
    default_scopes: values.default_scopes,
    ...credentialParams(values),
  };
  if (values.cloud !== "public") params.authority = authorityParam(values);
  if (usesRedirect(values.flow)) params.redirect = values.redirect;
  return params;
}

const same = (left: unknown, right: unknown): boolean => JSON.stringify(left) === JSON.stringify(right);

/** Only what changed, so an edit never resends (or wipes) what the person did not touch. */
export function toUpdateParams(values: AppFormValues, original: AppRegistration): Partial<AppParams> {
  const before = fromApp(original);
  const changes: Partial<AppParams> = {};
  if (values.name.trim() !== before.name) changes.new_name = values.name.trim();
  if (values.client_id.trim() !== before.client_id) changes.client_id = values.client_id.trim();
  if (values.tenant.trim() !== before.tenant) changes.tenant = values.tenant.trim();
  if (values.flow !== before.flow) changes.flow = values.flow;
  if (values.cloud !== before.cloud || (values.cloud === "custom" && values.custom_url.trim() !== before.custom_url)) {
    changes.authority = authorityParam(values);
  }
  // A flow without a redirect ignores it; the service picks "none" for it by itself.
  if (usesRedirect(values.flow) && values.redirect !== original.redirect) changes.redirect = values.redirect;
  if (!same(values.protocol, before.protocol)) changes.protocol = values.protocol;
  if (!same(values.default_scopes, before.default_scopes)) changes.default_scopes = values.default_scopes;
  Object.assign(changes, credentialParams(values));
  const secretGone =
    original.has_client_secret &&
    (!needsCredential(values.flow) || values.credential === "none" || values.credential === "certificate");
  if (secretGone) changes.client_secret = null;
  // A flow without a credential drops a certificate by itself; with one, a certificate left
  // beside a new secret would still be the one used.
  const certificateGone =
    original.has_certificate &&
    needsCredential(values.flow) &&
    (values.credential === "secret" || values.credential === "none");
  if (certificateGone) changes.remove_certificate = true;
  return changes;
}

/**
 * Which form field a service `invalid_input` names. The service names the request parameter
 * (`client_id`); older versions named it in words (`client id`, `PKCS#12 file`).
 */
export function formFieldOf(field: string | undefined): AppField | null {
  if (!field) return null;
  const key = field.trim().toLowerCase().replace(/[\s-]+/g, "_");
  const map: Record<string, AppField> = {
    name: "name",
    new_name: "name",
    app_name: "name",
    client_id: "client_id",
    tenant: "tenant",
    authority: "cloud",
    cloud: "cloud",
    flow: "flow",
    redirect: "redirect",
    protocol: "protocol",
    default_scopes: "default_scopes",
    scopes: "default_scopes",
    scope: "default_scopes",
    client_secret: "client_secret",
    client_credential: "credential",
    credential: "credential",
    certificate: "certificate",
    certificate_pem: "certificate",
    private_key_pem: "certificate",
    pkcs12_base64: "certificate",
    "pkcs#12_file": "certificate",
    pkcs12_password: "pkcs12_password",
  };
  return map[key] ?? null;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let index = 0; index < bytes.length; index += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
  }
  return btoa(binary);
}

function readBytes(file: Blob): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.onerror = () => reject(reader.error ?? new Error("The file could not be read."));
    reader.readAsArrayBuffer(file);
  });
}

/** A PEM file as its text; a PKCS#12 bundle (binary) as base64 for the wire. */
export async function readCertificateFile(file: File): Promise<CertificateFile> {
  const bytes = await readBytes(file);
  if (/\.(p12|pfx)$/i.test(file.name)) return { kind: "pkcs12", fileName: file.name, base64: toBase64(bytes) };
  return { kind: "pem", fileName: file.name, pem: new TextDecoder().decode(bytes) };
}
