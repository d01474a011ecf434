"""The one outbound HTTP client every ingest fetch uses (feeds, enclosures, API calls, downloads).

Ingest URLs come from editors, feeds and the redirects of servers we do not control, so every fetch is treated as a
server-side request forgery attempt until proven otherwise: only http(s) without credentials in the URL; the host is
resolved once per hop, every address it resolves to is checked against `cms.ingest.addresses`, and the request goes
to the checked address itself (an IP-literal URL with the original Host header, and for https the name as TLS SNI so
the certificate is verified against the name), so a DNS answer that changes between check and connect cannot move
the request. Redirects are followed here, one checked hop at a time; bodies are streamed under a byte cap and an
overall deadline; transient failures are retried with backoff; and each host gets at most `host_rps` request starts
per second. Deadlines per attempt (redirects included): a document gets 2 × `timeout`; a download gets 10 × `timeout`
plus one second per 256 KiB received, so a large file at a steady pace finishes and a trickle does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.cookiejar
import ipaddress
import os
import random
import secrets
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import httpx

from cms.core.errors import Invalid, TooLarge
from cms.core.settings import Settings
from cms.ingest.addresses import is_allowed, refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]
T = TypeVar("T")

REDIRECTS = frozenset({301, 302, 303, 307, 308})
TRANSIENT = frozenset({429, 502, 503, 504})
_CREDENTIALS = ("authorization", "proxy-authorization", "cookie", "x-goog-api-key")  # never carried to another origin
_DEFAULT_PORT = {"http": 80, "https": 443}
_DOWNLOAD_MIN_RATE = 256 * 1024  # bytes per second that earn a download more time past its first 10 × timeout
_RETRY_AFTER_MAX = 60.0


class RefusedURL(Invalid):
    """The URL (or a redirect on the way) points where ingest may not go; retrying will not help."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__({"url": f"refused to fetch {url}: {reason}"})
        self.url = url
        self.reason = reason


class FetchFailed(Exception):
    """The server answered with an unusable status (`status`), or not at all (`status` None), after any retries."""

    def __init__(self, status: int | None, url: str, detail: str = "") -> None:
        what = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"fetching {url} failed: {what}" + (f" ({detail})" if detail else ""))
        self.status = status
        self.url = url


class _Transient(Exception):
    def __init__(self, status: int, url: str, retry_after: float | None) -> None:
        super().__init__(status, url)
        self.status, self.url, self.retry_after = status, url, retry_after


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL, after redirects
    status: int  # 2xx, or 304 for a conditional GET
    headers: httpx.Headers
    content: bytes


@dataclass(frozen=True)
class Downloaded:
    path: Path
    url: str
    size: int
    sha256: str
    content_type: str | None


def redirect_method(status: int, method: str) -> str:
    """The method for the next hop: 303 always becomes GET, 301/302 turn a POST into GET (as browsers do)."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return "GET"
    return method


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PerNameTransport(httpx.AsyncBaseTransport):
    """Pools connections per TLS name: httpcore pools by (scheme, IP, port), so without this a connection whose
    certificate was verified for one name could carry a request for another name that resolved to the same address."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._pools: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = str(request.extensions.get("sni_hostname", ""))
        if name not in self._pools:
            self._pools[name] = httpx.AsyncHTTPTransport(verify=self._ssl_context, trust_env=False)
        return await self._pools[name].handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()


class _Deadline:
    """An overall deadline over an `asyncio.timeout` scope that can be pushed back (rate-limit waits, progress)."""

    def __init__(self, scope: asyncio.Timeout, seconds: float) -> None:
        self._scope, self._when = scope, asyncio.get_running_loop().time() + seconds
        scope.reschedule(self._when)

    def extend(self, seconds: float) -> None:
        self._when += seconds
        self._scope.reschedule(self._when)


class SafeClient:
    def __init__(
        self,
        *,
        allow_hosts: Iterable[str] = (),
        max_bytes: int = 4 * 1024**3,
        max_document_bytes: int = 20 * 1024**2,
        timeout: float = 30.0,
        host_rps: float = 5.0,
        max_redirects: int = 5,
        retries: int = 2,
        user_agent: str = "media-cms-ingest/0.1",
        resolve: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        backoff: float = 0.5,
    ) -> None:
        self.allow_hosts = frozenset(host.lower() for host in allow_hosts)
        self.max_bytes, self.max_document_bytes = max_bytes, max_document_bytes
        self.timeout, self.host_rps, self.backoff = timeout, host_rps, backoff
        self.max_redirects, self.retries = max_redirects, retries
        self._resolve = resolve or system_resolve
        self._next_start: dict[str, float] = {}
        # certifi's roots (plus SSL_CERT_FILE / SSL_CERT_DIR, where an operator adds an on-premise CA)
        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        self._client = httpx.AsyncClient(
            transport=_PerNameTransport(context),
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout),  # connect, and each read/write, and waiting for a pooled connection
            follow_redirects=False,  # every hop is checked here
            trust_env=False,  # a proxy from the environment would resolve names itself, past our checks
            # No cookie jar: cookies would be filed under IP literals and leak between names sharing an address.
            cookies=http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            allow_hosts=settings.ingest_allow_hosts,
            max_bytes=settings.ingest_max_bytes,
            max_document_bytes=settings.ingest_max_document_bytes,
            timeout=settings.ingest_timeout_seconds,
            host_rps=settings.ingest_host_requests_per_second,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def get_document(self, url: str, *, headers: Mapping[str, str] | None = None) -> Fetched:
        """GET a feed or API document, at most `max_document_bytes`; a 304 (conditional GET) comes back as is."""

        async def consume(response: httpx.Response, final: str, deadline: _Deadline) -> Fetched:
            if response.status_code != 304 and not 200 <= response.status_code < 300:
                raise FetchFailed(response.status_code, final)
            body = bytearray()
            async for chunk in _capped(response, self.max_document_bytes, final):
                body += chunk
            return Fetched(url=final, status=response.status_code, headers=response.headers, content=bytes(body))

        start = self._parse(url)
        return await self._retrying(
            url, lambda: self._attempt(start, httpx.Headers(headers), 2 * self.timeout, consume)
        )

    async def download(
        self, url: str, dest: Path, *, headers: Mapping[str, str] | None = None, max_bytes: int | None = None
    ) -> Downloaded:
        """Stream a 2xx body into `dest` (through a temporary file beside it, renamed on success, removed on failure)."""
        cap = max_bytes or self.max_bytes
        start = self._parse(url)
        sent = httpx.Headers(headers)
        sent.setdefault("Accept-Encoding", "identity")  # the file's own bytes: its sha256 and size are what we store
        part = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
        try:
            with part.open("xb") as file:

                async def consume(response: httpx.Response, final: str, deadline: _Deadline) -> Downloaded:
                    if not 200 <= response.status_code < 300:
                        raise FetchFailed(response.status_code, final)
                    file.seek(0)
                    file.truncate()  # a retry starts over
                    digest, size = hashlib.sha256(), 0
                    async for chunk in _capped(response, cap, final):
                        file.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        deadline.extend(len(chunk) / _DOWNLOAD_MIN_RATE)
                    kind = response.headers.get("content-type")
                    return Downloaded(path=dest, url=final, size=size, sha256=digest.hexdigest(), content_type=kind)

                result = await self._retrying(url, lambda: self._attempt(start, sent, 10 * self.timeout, consume))
            os.replace(part, dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return result

    async def _retrying(self, url: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Retry transient failures (no response, timeouts, 429/502/503/504); refusals and other statuses go through."""
        for tried in range(self.retries + 1):
            retry_after: float | None = None
            try:
                return await attempt()
            except _Transient as exc:
                failure, retry_after = FetchFailed(exc.status, exc.url), exc.retry_after
            except TimeoutError:
                failure = FetchFailed(None, url, "the overall deadline passed")
            except (httpx.TransportError, socket.gaierror) as exc:
                failure = FetchFailed(None, url, f"{type(exc).__name__}: {exc}")
            except httpx.DecodingError as exc:  # a broken gzip body will not mend itself
                raise FetchFailed(None, url, f"undecodable body: {exc}") from exc
            if tried == self.retries or retry_after is not None and retry_after > _RETRY_AFTER_MAX:
                raise failure
            backoff = self.backoff * 2**tried + random.uniform(0, self.backoff)  # jitter spreads concurrent retries
            await asyncio.sleep(backoff if retry_after is None else retry_after)
        raise AssertionError("unreachable")

    async def _attempt(
        self,
        url: httpx.URL,
        headers: httpx.Headers,
        budget: float,
        consume: Callable[[httpx.Response, str, _Deadline], Awaitable[T]],
    ) -> T:
        """One try: follow up to `max_redirects` redirects, each hop checked, all under one deadline."""
        method, start, headers = "GET", url, headers.copy()  # a retry starts with the caller's headers again
        async with asyncio.timeout(None) as scope:
            deadline = _Deadline(scope, budget)
            for _ in range(self.max_redirects + 1):
                response = await self._hop(method, url, headers, deadline)
                try:
                    location = response.headers.get("location")
                    if response.status_code in TRANSIENT:
                        raise _Transient(response.status_code, str(url), _retry_after(response))
                    if response.status_code not in REDIRECTS or location is None:
                        return await consume(response, str(url), deadline)
                finally:
                    await response.aclose()
                try:
                    target = self._parse(url.join(location))
                except httpx.InvalidURL as exc:
                    raise RefusedURL(str(url), f"its redirect to {location!r} is not a valid URL ({exc})") from None
                if _origin(target) != _origin(url):
                    for name in _CREDENTIALS:
                        headers.pop(name, None)
                method, url = redirect_method(response.status_code, method), target
        raise RefusedURL(str(start), f"more than {self.max_redirects} redirects (the last to {url})")

    async def _hop(self, method: str, url: httpx.URL, headers: httpx.Headers, deadline: _Deadline) -> httpx.Response:
        host = url.raw_host.decode("ascii")
        addresses = await self._addresses(url, host, url.port or _DEFAULT_PORT[url.scheme])
        wait = self._reserve_start(host)
        deadline.extend(wait)  # waiting our turn is not the server's slowness
        await asyncio.sleep(wait)
        hop_headers = headers.copy()
        hop_headers["Host"] = url.netloc.decode("ascii")
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        failure: httpx.ConnectError | None = None
        for address in addresses:  # the checked addresses, in resolver order; never the name again
            request = self._client.build_request(
                method, url.copy_with(host=address), headers=hop_headers, extensions=extensions
            )
            try:
                return await self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def _addresses(self, url: httpx.URL, host: str, port: int) -> list[str]:
        """Resolve once and check every answer: one bad address refuses the URL (the connect could pick any)."""
        try:
            addresses, literal = [str(ipaddress.ip_address(host))], True
        except ValueError:
            addresses, literal = await self._resolve(host, port), False
        if not addresses:
            raise FetchFailed(None, str(url), f"{host} resolves to no address")
        if is_allowed(host, port, self.allow_hosts):
            return addresses
        for address in addresses:
            why = refusal(address)
            if why is not None:
                where = host if literal else f"{host} resolves to {address}"
                hint = "a trusted on-premise source can be allowed by name in CMS_INGEST_ALLOW_HOSTS"
                raise RefusedURL(str(url), f"{where}, which is {why} ({hint})")
        return addresses

    def _reserve_start(self, host: str) -> float:
        """Book the next start slot for `host` (evenly spaced at 1 / host_rps) and return the wait until it."""
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next_start.get(host, now))
        self._next_start[host] = slot + 1 / self.host_rps
        if len(self._next_start) > 1024:  # forget hosts whose slots are in the past
            self._next_start = {name: t for name, t in self._next_start.items() if t > now}
        return slot - now

    def _parse(self, url: str | httpx.URL) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise RefusedURL(repr(str(url)), f"not a valid URL ({exc})") from None
        if parsed.scheme not in _DEFAULT_PORT:
            raise RefusedURL(str(parsed), "only http and https URLs are fetched")
        if parsed.userinfo:
            shown = str(parsed.copy_with(username=None, password=None))
            raise RefusedURL(shown, "credentials in the URL are not accepted; send them in a header instead")
        if not parsed.host:
            raise RefusedURL(str(parsed), "the URL names no host")
        return parsed.copy_with(fragment=None)


async def _capped(response: httpx.Response, cap: int, url: str) -> AsyncIterator[bytes]:
    """The decoded body in chunks, stopped with TooLarge as soon as it (or its announced length) passes `cap`."""
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > cap:
        raise TooLarge(f"{url} announces {announced} bytes, over the limit of {cap}")
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise TooLarge(f"{url} sent more than the limit of {cap} bytes")
        yield chunk


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None  # the HTTP-date form falls back to our own backoff


def _origin(url: httpx.URL) -> tuple[str, bytes, int]:
    return url.scheme, url.raw_host, url.port or _DEFAULT_PORT[url.scheme]
