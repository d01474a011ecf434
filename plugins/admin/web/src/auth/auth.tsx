// Sign-in with the OIDC authorization code flow and PKCE (oidc-client-ts) against the configured issuer:
// Keycloak in production and tests, the app's development issuer otherwise. Tokens stay in sessionStorage (one tab's
// session, gone when it closes); refresh tokens renew them silently before they expire.
import { UserManager, WebStorageStateStore, type User } from "oidc-client-ts";
import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import type { AdminConfig } from "../config";

export interface Auth {
  user: User | null;
  /** The access token to send to the API, or null when signed out. */
  token: () => string | null;
  signIn: (returnTo?: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

export function createUserManager(config: AdminConfig, base: string = import.meta.env.BASE_URL): UserManager {
  const here = `${window.location.origin}${base}`;
  return new UserManager({
    authority: config.oidc.authority,
    client_id: config.oidc.clientId,
    scope: config.oidc.scope,
    redirect_uri: `${here}callback`,
    post_logout_redirect_uri: here,
    response_type: "code",
    automaticSilentRenew: true,
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
  });
}

/** Finishes a sign-in when the identity provider sends the browser back to /admin/callback; returns where to go. */
export async function completeSignIn(manager: UserManager): Promise<string | null> {
  const url = new URL(window.location.href);
  if (!url.pathname.endsWith("/callback") || !(url.searchParams.has("code") || url.searchParams.has("error"))) {
    return null;
  }
  const user = await manager.signinRedirectCallback();
  const returnTo = typeof user.state === "string" && user.state.startsWith("/") ? user.state : "/";
  return returnTo;
}

export function AuthProvider({ manager, children }: { manager: UserManager; children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [ready, setReady] = useState(false);
  // The API client reads the token on every request: through a ref it always sees the latest renewal.
  const current = useRef<User | null>(null);
  current.current = user;

  useEffect(() => {
    let live = true;
    const loaded = (next: User) => {
      if (live) setUser(next);
    };
    const unloaded = () => {
      if (live) setUser(null);
    };
    // An expired access token with a refresh token still valid is renewed, not a reason to sign out: a reload after
    // a coffee break, or a renewal that came late (a laptop waking up), keeps the editor where they were.
    const renewOrUnload = () => {
      manager.signinSilent().catch(unloaded);
    };
    manager.events.addUserLoaded(loaded);
    manager.events.addUserUnloaded(unloaded);
    manager.events.addUserSignedOut(unloaded);
    manager.events.addAccessTokenExpired(renewOrUnload);
    manager
      .getUser()
      .then(async (found) => {
        if (found?.expired && found.refresh_token) return manager.signinSilent().catch(() => null);
        return found && !found.expired ? found : null;
      })
      .then((found) => live && setUser(found))
      .finally(() => live && setReady(true));
    return () => {
      live = false;
      manager.events.removeUserLoaded(loaded);
      manager.events.removeUserUnloaded(unloaded);
      manager.events.removeUserSignedOut(unloaded);
      manager.events.removeAccessTokenExpired(renewOrUnload);
    };
  }, [manager]);

  const auth = useMemo<Auth>(
    () => ({
      user,
      token: () => {
        const latest = current.current;
        return latest && !latest.expired ? latest.access_token : null;
      },
      signIn: (returnTo = "/") => manager.signinRedirect({ state: returnTo }),
      // The ID token goes along as id_token_hint, so the provider ends its session without asking again.
      signOut: () =>
        manager.signoutRedirect().catch(async () => {
          await manager.removeUser();
          window.location.assign(import.meta.env.BASE_URL);
        }),
    }),
    [manager, user],
  );
  if (!ready) return <p role="status">Loading…</p>;
  return <AuthContext.Provider value={auth}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (auth === null) throw new Error("useAuth outside <AuthProvider>");
  return auth;
}
