// Light, dark, or whatever the system prefers (the default). The choice is kept in localStorage and applied as
// `data-theme` on <html>; app.css resolves colours with light-dark(), so "system" needs no script at all.
export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'easel.theme';
const ORDER: ThemeChoice[] = ['system', 'light', 'dark'];

export class Theme {
  choice = $state<ThemeChoice>('system');

  constructor(private readonly storage: Storage | null = globalThis.localStorage ?? null) {
    const saved = this.#read();
    if (saved) this.choice = saved;
    this.apply();
  }

  /** system → light → dark → system. */
  cycle(): void {
    this.set(ORDER[(ORDER.indexOf(this.choice) + 1) % ORDER.length] as ThemeChoice);
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    try {
      this.storage?.setItem(KEY, choice);
    } catch {
      // not remembered, still applied
    }
    this.apply();
  }

  apply(): void {
    const root = document.documentElement;
    if (this.choice === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.choice;
  }

  #read(): ThemeChoice | null {
    try {
      const value = this.storage?.getItem(KEY);
      return ORDER.includes(value as ThemeChoice) ? (value as ThemeChoice) : null;
    } catch {
      return null;
    }
  }
}
