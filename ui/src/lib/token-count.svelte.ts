// The live token counter under a prompt box ("23/75"): asks the server's tokenizer for the model in use, a
// moment after typing stops. Only the latest question's answer is shown; older ones are aborted or dropped.
import { api } from './api.js';

const DEBOUNCE_MS = 250;

export class TokenCount {
  count = $state<number | null>(null);
  limit = $state(75);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticket = 0;
  #abort: AbortController | null = null;

  /** Counts `text` for `model` soon; an empty text counts 0 at once. */
  update(text: string, model: string): void {
    clearTimeout(this.#timer);
    const ticket = ++this.#ticket;
    this.#abort?.abort();
    if (!text.trim()) {
      this.count = 0;
      this.limit = 75;
      return;
    }
    this.#timer = setTimeout(() => void this.#ask(ticket, text, model), DEBOUNCE_MS);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#abort?.abort();
    this.#ticket++;
  }

  async #ask(ticket: number, text: string, model: string): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    try {
      const result = await api.tokenize(text, model || undefined, abort.signal);
      if (ticket !== this.#ticket) return;
      this.count = result.count;
      this.limit = result.limit;
    } catch {
      // No count is better than a wrong one: a missing model or a dropped connection just blanks it.
      if (ticket === this.#ticket) this.count = null;
    }
  }
}
