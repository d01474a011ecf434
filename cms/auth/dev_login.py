"""The development issuer's browser sign-in: OAuth 2.0 authorization code with PKCE (RFC 6749, RFC 7636) and OpenID
Connect tokens, so the admin SPA (oidc-client-ts) signs in when no real identity provider is configured.

Only ever built beside the development issuer (OIDC_ISSUER unset, which production settings refuse). No HTTP here:
cms/http/dev_issuer.py serves it; parameters come in as mappings of name -> values, answers go out as dicts,
locations to redirect to, or the errors below.

Kept state, chosen for one development process:
- authorization codes are random strings in a process-local dict for 60 s; redeeming removes one, so a code works
  once, right or wrong (a restart forgets them, which costs one more sign-in);
- refresh tokens are stateless, signed by the issuer's key with a `typ` of their own (so neither an access token nor
  an ID token passes for one); each use gives a new one for another 8 h. Logging out with an `id_token_hint` puts
  the sign-in's `sid` in a process-local set that the refresh grant checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cms.auth.dev_issuer import SCOPES, DevIssuer
from cms.auth.principal import Principal
from cms.core.settings import CMS_ROLES

Params = Mapping[str, Sequence[str]]

CODE_TTL_SECONDS = 60
ACCESS_TTL_SECONDS = 600  # short, so the admin's silent renew (the refresh grant) runs within a working session
REFRESH_TTL_SECONDS = 8 * 3600
FORM_TTL_SECONDS = 600  # how long the sign-in page may stay open
MAX_OPEN_CODES = 1000  # a bound on the dict, whoever keeps asking for codes
MAX_VALUE_CHARS = 512  # state, nonce: echoed back and carried in the form, so bounded
NAME_MAX_CHARS = 64

REFRESH_TYP = "dev-refresh+jwt"
FORM_TYP = "dev-authz-request+jwt"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 section 4.1
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")  # base64url of a SHA-256 digest, unpadded
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _now() -> float:
    return time.time()


class OAuthError(Exception):
    """An RFC 6749 error for the client: in the token endpoint's JSON body, or in a redirect (`RedirectError`)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description = error, description


class RedirectError(OAuthError):
    """An authorization error sent back to a redirect URI already known to be safe: `location` carries it."""

    def __init__(self, error: str, description: str, location: str) -> None:
        super().__init__(error, description)
        self.location = location


class UntrustedClient(Exception):
    """The client, its redirect URI or the signed form is not trusted: the user is told, and never redirected (a
    redirect to an unchecked URI would make the issuer an open redirector, RFC 6749 section 4.1.2.1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str  # S256


@dataclass(frozen=True)
class Identity:
    """Who the developer chose to be on the sign-in page."""

    subject: str
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class _Session:
    """One sign-in, as the tokens issued for it (and their refreshes) carry it."""

    identity: Identity
    client_id: str
    scope: str
    auth_time: int
    sid: str


@dataclass(frozen=True)
class _Grant:
    request: AuthorizationRequest
    session: _Session
    expires_at: float


def identity_from_form(role: str, name: str) -> Identity:
    """The identity for a role and a display name; the subject is made from the name ("Dev Editor" -> dev-editor,
    the subject `cms dev-token --role editor` uses). ValueError when the role is not a CMS role."""
    if role not in CMS_ROLES:
        raise ValueError(f"Choose a role: {', '.join(CMS_ROLES)}.")
    name = " ".join(name.split())[:NAME_MAX_CHARS] or f"Dev {role.title()}"
    return Identity(subject=subject_for(name), name=name, roles=(role,))


def subject_for(name: str) -> str:
    """A stable subject for a display name: `dev-` and its ASCII slug (a digest when nothing of it is ASCII)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48].strip("-")
    slug = slug or hashlib.sha256(name.encode()).hexdigest()[:12]
    return slug if slug.startswith("dev-") else f"dev-{slug}"


def userinfo(principal: Principal) -> dict[str, Any]:
    """The OIDC UserInfo answer for the caller of a valid access token."""
    claims: dict[str, Any] = {"sub": principal.subject, "roles": sorted(principal.roles)}
    if principal.name:
        claims["name"] = principal.name
    if principal.email:
        claims["email"] = principal.email
    return claims


class RedirectPolicy:
    """Where the issuer may send a browser back: the issuer's own origin (PUBLIC_BASE_URL), the CORS origins the
    API trusts, and any port of a loopback host (the vite dev server, an app reached at 127.0.0.1)."""

    def __init__(self, issuer: str, origins: Iterable[str] = ()) -> None:
        own = origin(issuer)
        self.origins = frozenset({*origins, *([own] if own else [])})

    def allows(self, uri: str) -> bool:
        if not _plain_http_url(uri):
            return False
        parts = urlsplit(uri)
        return origin(uri) in self.origins or (parts.hostname or "") in _LOOPBACK_HOSTS


def _plain_http_url(uri: str) -> bool:
    """An absolute http(s) URL with a host and nothing browsers and Python might read differently: no user info,
    backslash, whitespace, control or non-ASCII characters, and no fragment (RFC 6749 section 3.1.2)."""
    if not uri.isascii() or any(c <= " " or c in "\\\x7f" for c in uri):
        return False
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc and not parts.fragment


def origin(uri: str) -> str | None:
    """scheme://host[:port] as browsers send it in `Origin` (and as settings keep CMS_CORS_ORIGINS)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, _DEFAULT_PORTS[scheme]) else "")


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` (those not None) added to its query, which is kept."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _only(params: Params, name: str) -> str | None:
    """The parameter's one value; None when absent; ValueError when repeated (RFC 6749 section 3.1)."""
    values = params.get(name) or ()
    if len(values) > 1:
        raise ValueError(f"{name} is given more than once")
    return values[0] if values else None


class _Codes:
    """Authorization codes: random, single use, short-lived, process-local (see the module's docstring)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._grants: dict[str, _Grant] = {}

    def issue(self, request: AuthorizationRequest, session: _Session) -> str:
        now = _now()
        self._grants = {code: grant for code, grant in self._grants.items() if grant.expires_at > now}
        while len(self._grants) >= MAX_OPEN_CODES:
            del self._grants[next(iter(self._grants))]  # the oldest: dicts keep insertion order
        code = secrets.token_urlsafe(32)
        self._grants[code] = _Grant(request, session, now + self.ttl)
        return code

    def redeem(self, code: str) -> _Grant | None:
        grant = self._grants.pop(code, None)
        return grant if grant is not None and grant.expires_at > _now() else None


class DevLogin:
    """The protocol for one public client (`client_id`, the admin SPA) against the development issuer `issuer`."""

    def __init__(
        self,
        issuer: DevIssuer,
        *,
        client_id: str,
        audience: str,
        origins: Iterable[str] = (),
        access_ttl: int = ACCESS_TTL_SECONDS,
        refresh_ttl: int = REFRESH_TTL_SECONDS,
        code_ttl: int = CODE_TTL_SECONDS,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.audience = audience
        self.redirects = RedirectPolicy(issuer.issuer, origins)
        self.access_ttl, self.refresh_ttl = access_ttl, refresh_ttl
        self._codes = _Codes(code_ttl)
        self._signed_out: dict[str, float] = {}  # sid -> when its last refresh token expires

    # -- authorization endpoint ------------------------------------------------------------------------------------

    def authorization_request(self, params: Params) -> AuthorizationRequest:
        """The checked request; UntrustedClient before the redirect URI is known good, RedirectError after."""
        redirect_uri = self._trusted_redirect(params)
        state_values = params.get("state") or ()
        state = state_values[0] if len(state_values) == 1 else None

        def refuse(error: str, description: str) -> RedirectError:
            return RedirectError(error, description, self._error_location(redirect_uri, error, description, state))

        try:
            one = {name: _only(params, name) for name in params}
        except ValueError as error:
            raise refuse("invalid_request", str(error)) from None
        if "request" in one or "request_uri" in one:
            raise refuse("request_not_supported", "request objects are not supported")
        if not one.get("response_type"):
            raise refuse("invalid_request", "response_type is required")
        if one["response_type"] != "code":
            raise refuse("unsupported_response_type", "only response_type=code is supported")
        if one.get("response_mode", "query") != "query":
            raise refuse("invalid_request", "only response_mode=query is supported")
        scope = _granted_scope(one.get("scope") or "")
        if scope is None:
            raise refuse("invalid_scope", "scope must include openid")
        challenge = one.get("code_challenge")
        if not challenge:
            raise refuse("invalid_request", "code_challenge is required (PKCE, RFC 7636)")
        if one.get("code_challenge_method") != "S256":
            raise refuse("invalid_request", "code_challenge_method must be S256; plain is refused")
        if not _S256_CHALLENGE.fullmatch(challenge):
            raise refuse("invalid_request", "code_challenge is not a base64url SHA-256 digest")
        nonce = one.get("nonce")
        if any(value is not None and len(value) > MAX_VALUE_CHARS for value in (state, nonce)):
            raise refuse("invalid_request", f"state and nonce are limited to {MAX_VALUE_CHARS} characters")
        if "none" in (one.get("prompt") or "").split():
            raise refuse("login_required", "the development issuer keeps no session: sign in interactively")
        return AuthorizationRequest(self.client_id, redirect_uri, scope, state, nonce, challenge)

    def _trusted_redirect(self, params: Params) -> str:
        try:
            client_id, redirect_uri = _only(params, "client_id"), _only(params, "redirect_uri")
        except ValueError as error:
            raise UntrustedClient(f"The request is malformed: {error}.") from None
        if client_id != self.client_id:
            raise UntrustedClient(f"Unknown client_id: this issuer signs in {self.client_id!r} only.")
        if not redirect_uri or not self.redirects.allows(redirect_uri):
            raise UntrustedClient(
                "The redirect_uri is missing or not allowed: it must be on this server's origin, a loopback host "
                "(localhost, 127.0.0.1, [::1]) or an origin in CMS_CORS_ORIGINS, over http(s), without a fragment."
            )
        return redirect_uri

    def _error_location(self, redirect_uri: str, error: str, description: str, state: str | None) -> str:
        params = {"error": error, "error_description": description, "state": state, "iss": self.issuer.issuer}
        return with_query(redirect_uri, params)

    def seal(self, request: AuthorizationRequest) -> str:
        """The checked request, signed, for the sign-in form: its POST needs no state kept here, and a POST the
        issuer did not hand out (or one older than FORM_TTL_SECONDS) is refused."""
        now = int(_now())
        claims = {
            "iss": self.issuer.issuer,
            "aud": self._form_audience,
            "sub": request.client_id,
            "iat": now,
            "exp": now + FORM_TTL_SECONDS,
            "redirect_uri": request.redirect_uri,
            "scope": request.scope,
            "state": request.state,
            "nonce": request.nonce,
            "code_challenge": request.code_challenge,
        }
        return self.issuer.sign(claims, typ=FORM_TYP)

    def unseal(self, sealed: str) -> AuthorizationRequest:
        try:
            claims = self.issuer.verify(sealed, typ=FORM_TYP, audience=self._form_audience)
        except ValueError:
            raise UntrustedClient("This sign-in form is not valid or has expired: start again from the app.") from None
        return AuthorizationRequest(
            client_id=claims["sub"],
            redirect_uri=claims["redirect_uri"],
            scope=claims["scope"],
            state=claims.get("state"),
            nonce=claims.get("nonce"),
            code_challenge=claims["code_challenge"],
        )

    @property
    def _form_audience(self) -> str:
        return f"{self.issuer.issuer}/authorize"

    def approve(self, request: AuthorizationRequest, identity: Identity) -> str:
        """Where to send the browser: back to the client with a fresh code."""
        session = _Session(identity, request.client_id, request.scope, int(_now()), secrets.token_urlsafe(16))
        code = self._codes.issue(request, session)
        return with_query(request.redirect_uri, {"code": code, "state": request.state, "iss": self.issuer.issuer})

    def deny(self, request: AuthorizationRequest) -> str:
        return self._error_location(request.redirect_uri, "access_denied", "sign-in cancelled", request.state)

    # -- token endpoint --------------------------------------------------------------------------------------------

    def token(self, form: Params) -> dict[str, Any]:
        """The token response for a token request's form; OAuthError for any refusal."""
        try:
            params = {name: _only(form, name) for name in form}
        except ValueError as error:
            raise OAuthError("invalid_request", str(error)) from None
        grant_type = params.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError("unsupported_grant_type", "use authorization_code or refresh_token")
        if params.get("client_id") != self.client_id:
            raise OAuthError("invalid_client", f"unknown client_id: this issuer serves {self.client_id!r} only")
        if grant_type == "authorization_code":
            return self._redeem_code(params)
        return self._refresh(params)

    def _redeem_code(self, params: Mapping[str, str | None]) -> dict[str, Any]:
        code, redirect_uri, verifier = (params.get(name) for name in ("code", "redirect_uri", "code_verifier"))
        if not code or not redirect_uri or not verifier:
            raise OAuthError("invalid_request", "code, redirect_uri and code_verifier are required")
        if not _VERIFIER.fullmatch(verifier):
            raise OAuthError("invalid_request", "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~")
        grant = self._codes.redeem(code)  # gone from now on, whatever follows: a code is tried once
        if grant is None:
            raise OAuthError("invalid_grant", "the code is unknown, expired or already used")
        if grant.request.redirect_uri != redirect_uri or grant.request.client_id != params.get("client_id"):
            raise OAuthError("invalid_grant", "redirect_uri or client_id differ from the authorization request")
        if not hmac.compare_digest(_s256(verifier), grant.request.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        return self._tokens(grant.session, nonce=grant.request.nonce)

    def _refresh(self, params: Mapping[str, str | None]) -> dict[str, Any]:
        raw = params.get("refresh_token")
        if not raw:
            raise OAuthError("invalid_request", "refresh_token is required")
        try:
            claims = self.issuer.verify(raw, typ=REFRESH_TYP, audience=self.issuer.issuer)
        except ValueError:
            raise OAuthError("invalid_grant", "the refresh token is invalid or expired") from None
        if claims.get("client_id") != params.get("client_id"):
            raise OAuthError("invalid_grant", "the refresh token was issued to another client")
        if claims["sid"] in self._signed_out:
            raise OAuthError("invalid_grant", "the session was signed out")
        scope = claims["scope"]
        if requested := params.get("scope"):
            if not set(requested.split()) <= set(scope.split()):
                raise OAuthError("invalid_scope", "a refresh may not ask for more than the sign-in granted")
            scope = " ".join(dict.fromkeys(requested.split()))
        identity = Identity(claims["sub"], claims["name"], tuple(claims["roles"]))
        session = _Session(identity, claims["client_id"], scope, claims["auth_time"], claims["sid"])
        return self._tokens(session, nonce=None)  # no nonce on a refreshed ID token (OIDC Core section 12.2)

    def _tokens(self, session: _Session, *, nonce: str | None) -> dict[str, Any]:
        """Access, ID and refresh tokens for a session, as the token endpoint answers them (RFC 6749 section 5.1)."""
        now, who = int(_now()), session.identity
        common = {"sub": who.subject, "name": who.name, "roles": list(who.roles), "sid": session.sid}
        access = self.issuer.mint(
            who.subject,
            list(who.roles),
            audience=self.audience,
            ttl=self.access_ttl,
            name=who.name,
            extra={"azp": session.client_id, "scope": session.scope, "sid": session.sid, "jti": _jti()},
        )
        id_claims = {
            **common,
            "iss": self.issuer.issuer,
            "aud": session.client_id,
            "azp": session.client_id,
            "iat": now,
            "exp": now + self.access_ttl,
            "auth_time": session.auth_time,
        }
        if nonce is not None:
            id_claims["nonce"] = nonce
        refresh_claims = {
            **common,
            "iss": self.issuer.issuer,
            "aud": self.issuer.issuer,  # for the issuer itself: never an audience the API accepts
            "client_id": session.client_id,
            "scope": session.scope,
            "auth_time": session.auth_time,
            "iat": now,
            "exp": now + self.refresh_ttl,
            "jti": _jti(),
        }
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "id_token": self.issuer.sign(id_claims),
            "refresh_token": self.issuer.sign(refresh_claims, typ=REFRESH_TYP),
            "refresh_expires_in": self.refresh_ttl,
            "scope": session.scope,
        }

    # -- end session -----------------------------------------------------------------------------------------------

    def end_session(self, params: Params) -> str | None:
        """Sign out (OIDC RP-Initiated Logout): the sign-in named by `id_token_hint` can no longer be refreshed.
        Where to send the browser next: `post_logout_redirect_uri` when it passes the redirect check, else None
        (the caller shows a signed-out page)."""
        try:
            hint, target, state, client_id = (
                _only(params, name) for name in ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")
            )
        except ValueError:
            return None
        if hint:
            self._forget_session(hint)
        if not target or (client_id is not None and client_id != self.client_id) or not self.redirects.allows(target):
            return None
        return with_query(target, {"state": state})

    def _forget_session(self, id_token: str) -> None:
        try:
            # An expired ID token still names the sign-in (OIDC says to accept one as a hint).
            claims = self.issuer.verify(id_token, typ="JWT", audience=self.client_id, leeway=self.refresh_ttl)
        except ValueError:
            return
        now = _now()
        self._signed_out = {sid: until for sid, until in self._signed_out.items() if until > now}
        if isinstance(sid := claims.get("sid"), str):
            self._signed_out[sid] = now + self.refresh_ttl


def _granted_scope(requested: str) -> str | None:
    """The scopes granted for a request: those the issuer knows, in the request's order; None without openid."""
    asked = requested.split()
    if "openid" not in asked:
        return None
    return " ".join(dict.fromkeys(scope for scope in asked if scope in SCOPES))


def _jti() -> str:
    return secrets.token_urlsafe(16)
