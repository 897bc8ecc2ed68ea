// One ticking clock for every countdown on the page. It only runs while something reads it,
// so a hidden screen costs nothing, and countdowns never ask the backend again.
import { createSubscriber } from "svelte/reactivity";

export class Clock {
  #subscribe = createSubscriber((update) => {
    const timer = setInterval(update, 1000);
    return () => clearInterval(timer);
  });

  /** Unix seconds, now; reading it inside an effect or template re-runs it every second. */
  get nowS(): number {
    this.#subscribe();
    return Date.now() / 1000;
  }
}
