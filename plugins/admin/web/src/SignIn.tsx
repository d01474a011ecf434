import { useAuth } from "./auth/auth";

/** Shown when signed out: one button to the identity provider (it comes back to the page asked for). */
export function SignIn({ problem }: { problem?: string | undefined }) {
  const auth = useAuth();
  const returnTo = window.location.pathname.replace(/^\/admin/, "") || "/";
  return (
    <main id="main" className="sign-in">
      <h1>Media CMS</h1>
      <p>Sign in to edit programs and episodes, upload media and review.</p>
      {problem ? <p role="alert" className="field-error">{problem}</p> : null}
      <button type="button" className="primary" onClick={() => void auth.signIn(returnTo === "/callback" ? "/" : returnTo)}>
        Sign in
      </button>
    </main>
  );
}
