// The API key of this browser tab: kept in sessionStorage (gone when the tab closes, never shared
// with other tabs, never put in a URL), sent only as a Bearer header.
const STORAGE_KEY = "wafleet.apiKey";

export const auth = {
  key(): string | null {
    try {
      return sessionStorage.getItem(STORAGE_KEY);
    } catch {
      return null;
    }
  },
  set(key: string): void {
    sessionStorage.setItem(STORAGE_KEY, key);
  },
  clear(): void {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};
