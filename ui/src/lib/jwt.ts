// Reads what an access token says about itself. Only the header and payload are decoded;
// the signature is dropped at once and nothing is verified (the API does that). Microsoft
// issues opaque, non-JWT tokens to personal accounts, so "not a JWT" is a normal answer.

export type Claims = Record<string, unknown>;

export interface DecodedJwt {
  header: Claims;
  payload: Claims;
}

function decodeSegment(segment: string): Claims | null {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return null;
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  try {
    const binary = atob(padded);
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Claims) : null;
  } catch {
    return null;
  }
}

/** The header and claims of a JWT, or null when the token is not one. */
export function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return null;
  const header = decodeSegment(parts[0] ?? "");
  const payload = decodeSegment(parts[1] ?? "");
  return header && payload ? { header, payload } : null;
}

const TIME_CLAIMS = new Set(["exp", "iat", "nbf", "auth_time", "xms_tcdt"]);

/** A claim's value as text for the table: times as dates, lists joined. */
export function formatClaim(name: string, value: unknown): string {
  if (TIME_CLAIMS.has(name) && typeof value === "number") {
    return `${new Date(value * 1000).toLocaleString()} (${value})`;
  }
  if (Array.isArray(value) && value.every((item) => typeof item !== "object")) return value.join(", ");
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

const DESCRIPTIONS: Record<string, string> = {
  aud: "Audience: the API the token is for",
  iss: "Issuer",
  tid: "Tenant ID",
  oid: "Object ID of the user",
  sub: "Subject",
  upn: "User principal name",
  preferred_username: "Username",
  name: "Name",
  scp: "Delegated scopes",
  roles: "Application roles",
  appid: "Client ID of the app",
  azp: "Client ID of the app",
  app_displayname: "App name",
  exp: "Expires",
  iat: "Issued",
  nbf: "Not before",
  ver: "Token version",
  alg: "Signature algorithm",
  typ: "Type",
  kid: "Signing key ID",
  x5t: "Signing key thumbprint",
  amr: "How you signed in",
  idtyp: "Identity type",
};

export function describeClaim(name: string): string | undefined {
  return DESCRIPTIONS[name];
}
