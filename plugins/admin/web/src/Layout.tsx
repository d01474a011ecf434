// The frame around every page: skip link, navigation (by role), theme switch, sign-out.
import { useState } from "react";
import { NavLink, Outlet } from "react-router-dom";
import { useAuth } from "./auth/auth";
import { applyTheme, storedTheme, type Theme } from "./lib/theme";
import { useViewer } from "./viewer";

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
            <li>
              <NavLink to="/programs">Programs</NavLink>
            </li>
            <li>
              <NavLink to="/episodes">Episodes</NavLink>
            </li>
            {viewer.can.edit ? (
              <li>
                <NavLink to="/sources">Sources</NavLink>
              </li>
            ) : null}
            {viewer.can.administer ? (
              <>
                <li>
                  <NavLink to="/jobs">Jobs</NavLink>
                </li>
                <li>
                  <NavLink to="/audit">Audit</NavLink>
                </li>
                <li>
                  <NavLink to="/search-status">Search</NavLink>
                </li>
              </>
            ) : null}
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
