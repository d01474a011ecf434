// Light, dark or the system's choice; remembered in localStorage and applied as <html data-theme>.
export type Theme = "light" | "dark" | "system";
const KEY = "cms-admin-theme";

export function storedTheme(storage: Storage = window.localStorage): Theme {
  const value = storage.getItem(KEY);
  return value === "light" || value === "dark" ? value : "system";
}

export function applyTheme(theme: Theme, storage: Storage = window.localStorage, root: HTMLElement = document.documentElement) {
  if (theme === "system") {
    storage.removeItem(KEY);
    delete root.dataset.theme;
  } else {
    storage.setItem(KEY, theme);
    root.dataset.theme = theme;
  }
}
