// Short messages about results and failures, read out by screen readers through the live
// region that shows them (Toasts.svelte).
import { summarizeError } from "../errors";

export type ToastKind = "success" | "info" | "warning" | "error";

export interface Toast {
  id: number;
  kind: ToastKind;
  text: string;
}

// Long enough to read; failures and warnings stay longer because they say what to do.
const DURATION_MS: Record<ToastKind, number> = { success: 4000, info: 5000, warning: 10_000, error: 12_000 };

export class Toasts {
  items = $state<Toast[]>([]);
  #next = 1;

  show(kind: ToastKind, text: string, durationMs = DURATION_MS[kind]): number {
    const id = this.#next++;
    this.items = [...this.items.slice(-2), { id, kind, text }];
    if (durationMs > 0) setTimeout(() => this.dismiss(id), durationMs);
    return id;
  }

  success(text: string): number {
    return this.show("success", text);
  }

  info(text: string): number {
    return this.show("info", text);
  }

  warning(text: string): number {
    return this.show("warning", text);
  }

  /** A failure in plain words, with its code. */
  error(error: unknown, context?: string): number {
    const text = summarizeError(error);
    return this.show("error", context ? `${context}: ${text}` : text);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((toast) => toast.id !== id);
  }
}
