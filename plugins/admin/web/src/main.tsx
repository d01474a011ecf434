// Start-up: read the server's configuration, finish a sign-in coming back from the identity provider, then render
// the app for the signed-in user (or the sign-in screen).
import { StrictMode, useMemo } from "react";
import { createRoot } from "react-dom/client";
import { Provider } from "urql";
import { App } from "./App";
import { createApiClient } from "./api/client";
import { AuthProvider, completeSignIn, createUserManager, useAuth } from "./auth/auth";
import { endpoints, loadConfig, type AdminConfig } from "./config";
import { applyTheme, storedTheme } from "./lib/theme";
import { SignIn } from "./SignIn";
import { ViewerProvider } from "./viewer";
import "./styles.css";

function Signed({ config }: { config: AdminConfig }) {
  const auth = useAuth();
  const signedIn = auth.user !== null;
  // A new client per session: nothing cached for one user is shown to the next.
  const client = useMemo(
    () => createApiClient(endpoints(config.graphqlUrl), auth.token),
    [config, signedIn, auth.user?.profile.sub],
  );
  if (!signedIn) return <SignIn />;
  return (
    <Provider value={client}>
      <ViewerProvider>
        <App />
      </ViewerProvider>
    </Provider>
  );
}

async function start() {
  applyTheme(storedTheme());
  const root = createRoot(document.getElementById("root")!);
  let config: AdminConfig;
  try {
    config = await loadConfig();
  } catch (error) {
    root.render(<p role="alert">{String((error as Error).message)}</p>);
    return;
  }
  const manager = createUserManager(config);
  let problem: string | undefined;
  try {
    const returnTo = await completeSignIn(manager);
    if (returnTo !== null) window.history.replaceState(null, "", `${import.meta.env.BASE_URL.replace(/\/$/, "")}${returnTo}`);
  } catch (error) {
    problem = `Sign-in did not complete: ${(error as Error).message}`;
    window.history.replaceState(null, "", import.meta.env.BASE_URL);
  }
  root.render(
    <StrictMode>
      <AuthProvider manager={manager}>{problem ? <SignIn problem={problem} /> : <Signed config={config} />}</AuthProvider>
    </StrictMode>,
  );
}

void start();
