// Screens are hash routes (`#/accounts`, `#/signin?app=contoso`), so the browser's back
// button, bookmarks and the desktop window all work the same, and nothing reaches a server.

export const SCREENS = ["welcome", "accounts", "signin", "apps", "activity", "settings"] as const;
export type Screen = (typeof SCREENS)[number];

export interface Route {
  /** null when the address names no screen: the app picks one. */
  screen: Screen | null;
  params: Readonly<Record<string, string>>;
}

export function parseRoute(hash: string): Route {
  const [path = "", query = ""] = hash.replace(/^#\/?/, "").split("?", 2);
  const screen = (SCREENS as readonly string[]).includes(path) ? (path as Screen) : null;
  return { screen, params: Object.fromEntries(new URLSearchParams(query)) };
}

export function routeHref(screen: Screen, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
  const text = query.toString();
  return `#/${screen}${text ? `?${text}` : ""}`;
}
