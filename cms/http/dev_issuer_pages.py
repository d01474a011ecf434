"""The development issuer's HTML: the sign-in page, the refusal page and the signed-out page.

Self-contained (no script, no external asset), so the Content-Security-Policy allows nothing but the one inline
stylesheet, by its hash, and form posts to this server (plus, for the sign-in form, the client's origin: Chromium
checks `form-action` against the redirect that follows the post too).
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from cms.core.settings import CMS_ROLES

_STYLE = """
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; padding: 2rem 1rem; background: Canvas; color: CanvasText; }
main { max-width: 32rem; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0 0 0.5rem; }
.note { border-left: 4px solid #b45309; padding: 0.25rem 0.75rem; }
fieldset { border: 1px solid GrayText; border-radius: 6px; margin: 1rem 0; padding: 0.5rem 1rem 1rem; }
legend { font-weight: 600; padding: 0 0.25rem; }
.choice { display: flex; gap: 0.5rem; align-items: baseline; margin-top: 0.5rem; }
.hint { display: block; font-size: 0.9rem; opacity: 0.8; }
label[for="name"] { display: block; font-weight: 600; }
input[type="text"] { font: inherit; width: 100%; box-sizing: border-box; padding: 0.4rem; margin-top: 0.25rem; }
.actions { display: flex; gap: 0.75rem; margin-top: 1.25rem; }
button { font: inherit; padding: 0.5rem 1.25rem; border-radius: 6px; border: 1px solid #1d4ed8; cursor: pointer; }
button[value="allow"] { background: #1d4ed8; color: #fff; }
button[value="deny"] { background: transparent; color: inherit; border-color: GrayText; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.error { border: 2px solid #b91c1c; border-radius: 6px; padding: 0.5rem 0.75rem; }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

_ROLE_HINTS = {
    "admin": "everything editors do, plus the audit log, search status and failed jobs",
    "editor": "programs, episodes, uploads, drafts and publishing",
    "viewer": "reads published content and posts comments",
}


def content_security_policy(form_targets: str = "'none'") -> str:
    """Nothing but the page's own stylesheet; forms may post to `form_targets` only; never framed."""
    return (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action {form_targets}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def sign_in_page(
    *, action: str, sealed: str, client_id: str, returns_to: str, role: str = "editor", name: str = "", error: str = ""
) -> str:
    """The form: a role (radio buttons), a name, and the signed request in a hidden field."""
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    roles = "\n".join(_role_choice(each, checked=each == role) for each in CMS_ROLES)
    body = f"""
<h1>Sign in to the CMS</h1>
<p class="note">Development issuer: no password, you choose who to be. Its tokens are for this machine only.</p>
<p>Signing in to <strong>{escape(client_id)}</strong>, which gets you back at <strong>{escape(returns_to)}</strong>.</p>
{alert}
<form method="post" action="{escape(action)}">
<input type="hidden" name="request" value="{escape(sealed)}">
<fieldset>
<legend>Role</legend>
{roles}
</fieldset>
<label for="name">Name</label>
<input type="text" id="name" name="name" value="{escape(name)}" maxlength="64" autocomplete="off"
 aria-describedby="name-hint">
<span class="hint" id="name-hint">Shown in the CMS; your user id is made from it ("Dev Editor" is dev-editor).
Left empty: "Dev" and the role.</span>
<div class="actions">
<button type="submit" name="decision" value="allow">Sign in</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</div>
</form>"""
    return _page("Sign in - CMS development issuer", body)


def _role_choice(role: str, *, checked: bool) -> str:
    mark = " checked" if checked else ""
    return (
        f'<div class="choice"><input type="radio" id="role-{role}" name="role" value="{role}"'
        f' aria-describedby="role-{role}-hint"{mark}>'
        f'<span><label for="role-{role}">{role.title()}</label>'
        f' <span class="hint" id="role-{role}-hint">{escape(_ROLE_HINTS.get(role, ""))}</span></span></div>'
    )


def refusal_page(message: str) -> str:
    body = f"""
<h1>Sign-in refused</h1>
<p role="alert">{escape(message)}</p>
<p>Nothing was sent back to the application. Check its OIDC settings (client id, redirect URI) and try again.</p>"""
    return _page("Sign-in refused - CMS development issuer", body)


def signed_out_page() -> str:
    body = """
<h1>Signed out</h1>
<p>You are signed out of the development issuer. You can close this tab.</p>"""
    return _page("Signed out - CMS development issuer", body)


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>{body}
</main>
</body>
</html>
"""
