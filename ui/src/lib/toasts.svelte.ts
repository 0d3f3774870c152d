// Short messages at the edge of the screen: what an action did ("Seed copied") or why it did not. Errors from
// the server keep their code, so a report can quote it.
import { toErrorInfo } from './api.js';

export interface Toast {
  id: number;
  kind: 'info' | 'error';
  text: string;
  code?: string;
}

const SHOW_MS = { info: 3500, error: 8000 } as const;

export class Toasts {
  items = $state<Toast[]>([]);
  #next = 1;

  info(text: string): void {
    this.#push({ kind: 'info', text });
  }

  error(error: unknown): void {
    const info = toErrorInfo(error);
    this.#push({ kind: 'error', text: info.message, code: info.code });
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }

  #push(toast: Omit<Toast, 'id'>): void {
    const id = this.#next++;
    // Four at most: a burst of failures should not bury the page.
    this.items = [...this.items.slice(-3), { ...toast, id }];
    setTimeout(() => this.dismiss(id), SHOW_MS[toast.kind]);
  }
}
