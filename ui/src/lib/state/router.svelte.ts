// The current screen, following the address.
import type { Route, Screen } from "../route";
import { parseRoute, routeHref } from "../route";

export type { Route, Screen } from "../route";
export { routeHref } from "../route";

export class Router {
  current = $state<Route>({ screen: null, params: {} });

  constructor(private readonly win: Window = window) {
    this.current = parseRoute(win.location.hash);
    win.addEventListener("hashchange", () => (this.current = parseRoute(win.location.hash)));
  }

  /** Names the screen shown without adding a step to the browser's history. */
  settle(screen: Screen): void {
    const href = routeHref(screen);
    this.win.history.replaceState(this.win.history.state, "", href);
    this.current = parseRoute(href);
  }

  go(screen: Screen, params: Record<string, string | undefined> = {}): void {
    const href = routeHref(screen, params);
    // Set at once: the hashchange event that follows comes later (and not at all when the
    // address is already this one).
    this.win.location.hash = href;
    this.current = parseRoute(href);
  }
}
