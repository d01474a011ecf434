// The frame around every page: skip link, navigation (by role), theme switch, sign-out.
import { useState } from "react";
import { NavLink, Outlet } from "react-router-dom";
import { useAuth } from "./auth/auth";
import { applyTheme, storedTheme, type Theme } from "./lib/theme";
import { useViewer } from "./viewer";

/** The main navigation, and what a viewer must be able to do to be offered each page. */
const NAV: readonly { to: string; label: string; needs?: "edit" | "administer" }[] = [
  { to: "/programs", label: "Programs" },
  { to: "/episodes", label: "Episodes" },
  { to: "/sources", label: "Sources", needs: "edit" },
  { to: "/jobs", label: "Jobs", needs: "administer" },
  { to: "/audit", label: "Audit", needs: "administer" },
  { to: "/search-status", label: "Search", needs: "administer" },
];

export function Layout() {
  const auth = useAuth();
  const viewer = useViewer();
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const changeTheme = (next: Theme) => {
    applyTheme(next);
    setTheme(next);
  };
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Media CMS</span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((link) => !link.needs || viewer.can[link.needs]).map((link) => (
              <li key={link.to}>
                <NavLink to={link.to}>{link.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="session">
          <label className="theme-switch">
            <span className="visually-hidden">Theme</span>
            <select value={theme} onChange={(event) => changeTheme(event.target.value as Theme)}>
              <option value="system">System theme</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
          </label>
          <span className="who" data-testid="who">
            {viewer.displayName ?? "Signed in"} <span className="role">({viewer.roles.join(", ")})</span>
          </span>
          <button type="button" onClick={() => void auth.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
