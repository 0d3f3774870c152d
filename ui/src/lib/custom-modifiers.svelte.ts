// The user's own style modifiers, next to the built-in library; kept in localStorage.
const KEY = 'easel.modifiers.custom.v1';
const MAX_LENGTH = 200;

export class CustomModifiers {
  items = $state<string[]>([]);

  constructor(private readonly storage: Storage | null = globalThis.localStorage ?? null) {
    try {
      const saved: unknown = JSON.parse(storage?.getItem(KEY) ?? '[]');
      if (Array.isArray(saved)) this.items = saved.filter((s): s is string => typeof s === 'string' && s.trim() !== '');
    } catch {
      // a damaged entry starts an empty list
    }
  }

  /** Adds each comma- or line-separated phrase that is new; returns how many were added. */
  add(text: string): number {
    const fresh = text
      .split(/[\n,]/)
      .map((s) => s.trim().slice(0, MAX_LENGTH))
      .filter((s, i, all) => s && !this.items.includes(s) && all.indexOf(s) === i);
    if (fresh.length) this.#save([...this.items, ...fresh]);
    return fresh.length;
  }

  remove(text: string): void {
    this.#save(this.items.filter((s) => s !== text));
  }

  #save(items: string[]): void {
    this.items = items;
    try {
      this.storage?.setItem(KEY, JSON.stringify(items));
    } catch {
      // kept for this visit only
    }
  }
}
