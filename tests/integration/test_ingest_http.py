"""The ingest HTTP client against real loopback servers: SSRF refusals, redirects, DNS pinning, caps, retries,
the per-host rate limit and TLS verified against the name while connecting to the checked address."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cms.core.errors import TooLarge
from cms.core.settings import Settings
from cms.ingest import http as ingest_http
from cms.ingest.http import FetchFailed, RefusedURL, SafeClient

# --- a raw HTTP/1.1 server on loopback: full control over status lines, lengths and pacing ---------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names


Handler = Callable[[Seen, asyncio.StreamWriter], Awaitable[bool]]  # returns whether to keep the connection open


async def respond(
    writer: asyncio.StreamWriter, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> bool:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    return True


@dataclass
class RawServer:
    handler: Handler
    ssl_context: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    port: int = 0
    hits: list[Seen] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    @property
    def allow(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ", 2)
                headers = dict((k.strip().lower(), v.strip()) for k, v in (h.split(":", 1) for h in head[1:] if h))
                seen = Seen(method, path, headers)
                self.hits.append(seen)
                if not await self.handler(seen, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


Start = Callable[..., Awaitable[RawServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Start]:
    started: list[RawServer] = []

    async def start(
        handler: Handler, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> RawServer:
        server = await RawServer(handler, ssl_context, host, port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


async def ok(seen: Seen, writer: asyncio.StreamWriter) -> bool:
    headers = {"Content-Type": "text/plain", "ETag": '"v1"', "Set-Cookie": "session=abc; Path=/"}
    return await respond(writer, 200, f"hello {seen.path}".encode(), headers)


def scripted(*statuses: tuple[int, dict[str, str]]) -> Handler:
    """Answers with the scripted statuses in turn, then 200."""
    script = list(statuses)

    async def handle(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if script:
            status, headers = script.pop(0)
            return await respond(writer, status, b"", headers)
        return await ok(seen, writer)

    return handle


def client(*allow: str, **options: object) -> SafeClient:
    defaults: dict[str, object] = {"timeout": 5.0, "host_rps": 1000.0, "backoff": 0.01}
    return SafeClient(allow_hosts=allow, **{**defaults, **options})  # type: ignore[arg-type]


# --- plain fetches and refusals ---------------------------------------------------------------------------------------


async def test_plain_fetch(serve: Start) -> None:
    server = await serve(ok)
    async with client(server.allow) as http:
        got = await http.get_document(server.url("/feed.xml?page=2"))
        await http.get_document(server.url("/again"))
    assert got.status == 200
    assert got.content == b"hello /feed.xml?page=2"
    assert got.url == server.url("/feed.xml?page=2")
    assert got.headers["content-type"] == "text/plain"
    seen, again = server.hits
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"
    assert seen.headers["user-agent"] == "media-cms-ingest/0.1"
    assert "cookie" not in again.headers  # no cookie jar: cookies would be filed under IP literals


async def test_from_settings(tmp_path: Path) -> None:
    settings = Settings(CMS_DATA_DIR=tmp_path, CMS_INGEST_ALLOW_HOSTS="Feeds.Internal, media.internal:8080")
    async with SafeClient.from_settings(settings) as http:
        assert http.allow_hosts == {"feeds.internal", "media.internal:8080"}
        assert http.max_bytes == settings.ingest_max_bytes
        assert http.max_document_bytes == settings.ingest_max_document_bytes
        assert http.timeout == settings.ingest_timeout_seconds
        assert http.host_rps == settings.ingest_host_requests_per_second


async def test_loopback_refused_unless_allowed(serve: Start) -> None:
    server = await serve(ok)
    port = server.port
    async with client(f"127.0.0.1:{port + 1 if port < 65535 else port - 1}") as http:
        with pytest.raises(RefusedURL) as refused:
            await http.get_document(server.url())
        assert "127.0.0.1" in str(refused.value) and "loopback" in str(refused.value)
        assert server.url() in str(refused.value)
        with pytest.raises(RefusedURL, match=r"localhost resolves to (127\.0\.0\.1|::1), which is loopback"):
            await http.get_document(f"http://localhost:{port}/")
    # Spellings of loopback that get past a naive string check: refused even though 127.0.0.1:<port> is allowed,
    # because the allow list names hosts as written and these resolve (or are) loopback.
    async with client(server.allow) as http:
        for url in (
            f"http://2130706433:{port}/",  # integer
            f"http://0x7f.1:{port}/",  # hex, short form
            f"http://0177.0.0.1:{port}/",  # octal
            f"http://127.1:{port}/",
            f"http://[::1]:{port}/",
            f"http://[::ffff:127.0.0.1]:{port}/",
            f"http://[::ffff:7f00:1]:{port}/",
            f"http://0.0.0.0:{port}/",
            f"http://[::]:{port}/",
        ):
            with pytest.raises((RefusedURL, FetchFailed)) as caught:
                await http.get_document(url)
            # FetchFailed only where the system resolver does not know the spelling at all: never connected
            if isinstance(caught.value, FetchFailed):
                assert caught.value.status is None and "gaierror" in str(caught.value), url
    assert server.hits == []


async def test_schemes_and_credentials_refused(serve: Start) -> None:
    server = await serve(ok)
    async with client(server.allow) as http:
        for url in (
            "file:///etc/passwd",
            "ftp://example.com/file",
            "gopher://127.0.0.1:70/",
            "data:text/plain,hello",
            "javascript:alert(1)",
            "/relative/path",
            "http:///no-host",
        ):
            with pytest.raises(RefusedURL) as refused:
                await http.get_document(url)
            assert "refused to fetch" in str(refused.value)
        with pytest.raises(RefusedURL, match="credentials in the URL") as refused:
            await http.get_document(f"http://user:s3cret@127.0.0.1:{server.port}/")
        assert "s3cret" not in str(refused.value)
        with pytest.raises(RefusedURL, match="only http and https"):
            await http.download("file:///etc/passwd", Path("/tmp/never-written"))
    assert server.hits == []


# --- redirects ----------------------------------------------------------------------------------------------------------


def redirecting(to: Callable[[Seen], str | None], status: int = 302) -> Handler:
    async def handle(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        target = to(seen)
        if target is None:
            return await ok(seen, writer)
        return await respond(writer, status, b"", {"Location": target})

    return handle


async def test_redirect_to_a_loopback_port_not_allowed_is_refused(serve: Start) -> None:
    inner = await serve(ok)
    outer = await serve(redirecting(lambda seen: inner.url("/admin")))
    async with client(outer.allow) as http:
        with pytest.raises(RefusedURL) as refused:
            await http.get_document(outer.url("/go"))
    assert inner.url("/admin") in str(refused.value) and "loopback" in str(refused.value)
    assert len(outer.hits) == 1 and inner.hits == []


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://10.0.0.5:8080/", "private"),
        ("http://100.100.100.200/", "carrier-grade NAT"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1/", "only http and https"),
        ("http://user:pw@example.com/", "credentials"),
    ],
)
async def test_redirect_to_forbidden_places_refused(serve: Start, location: str, reason: str) -> None:
    outer = await serve(redirecting(lambda seen: location, 301))
    async with client(outer.allow) as http:
        with pytest.raises(RefusedURL, match=reason):
            await http.get_document(outer.url("/go"))


async def test_redirect_chain_limits(serve: Start) -> None:
    # /r/N redirects to /r/N-1; /r/0 answers. /loop redirects to itself.
    def chain(seen: Seen) -> str | None:
        if seen.path == "/loop":
            return "/loop"
        n = int(seen.path.rsplit("/", 1)[1])
        return f"/r/{n - 1}" if n > 0 else None

    server = await serve(redirecting(chain, 307))
    async with client(server.allow, max_redirects=5) as http:
        got = await http.get_document(server.url("/r/5"))
        assert got.url == server.url("/r/0") and got.content == b"hello /r/0"
        assert len(server.hits) == 6
        server.hits.clear()
        with pytest.raises(RefusedURL, match="more than 5 redirects"):
            await http.get_document(server.url("/r/6"))
        assert len(server.hits) == 6  # the 7th request is never sent
        with pytest.raises(RefusedURL, match="more than 5 redirects"):
            await http.get_document(server.url("/loop"))


async def test_relative_redirect_followed(serve: Start) -> None:
    targets = {"/a/b": "../c?x=1", "/c?x=1": "d", "/d": "//127.0.0.1:{port}/e"}

    def to(seen: Seen) -> str | None:
        target = targets.get(seen.path)
        return None if target is None else target.format(port=server.port)

    server = await serve(redirecting(to, 303))
    async with client(server.allow) as http:
        got = await http.get_document(server.url("/a/b"))
    assert [seen.path for seen in server.hits] == ["/a/b", "/c?x=1", "/d", "/e"]
    assert got.url == server.url("/e") and got.content == b"hello /e"


async def test_credentials_not_carried_to_another_origin(serve: Start) -> None:
    other = await serve(scripted((503, {})))
    first = await serve(redirecting(lambda seen: "/same" if seen.path == "/start" else None))
    hop = await serve(redirecting(lambda seen: other.url("/elsewhere")))
    headers = {"Authorization": "Bearer t0ken", "Cookie": "a=b", "X-Trace": "1"}
    async with client(first.allow, hop.allow, other.allow) as http:
        await http.get_document(first.url("/start"), headers=headers)
        await http.get_document(hop.url("/go"), headers=headers)
        await http.get_document(hop.url("/go"), headers=headers)  # the caller's headers are not used up
    assert [seen.headers.get("authorization") for seen in first.hits] == ["Bearer t0ken"] * 2  # same origin
    # `other` answered 503 to the first fetch: the retry starts over at `hop`, with the caller's headers again.
    assert [seen.headers.get("authorization") for seen in hop.hits] == ["Bearer t0ken"] * 3
    assert [(seen.headers.get("authorization"), seen.headers.get("cookie")) for seen in other.hits] == [
        (None, None)
    ] * 3
    assert all(seen.headers["x-trace"] == "1" for seen in other.hits)


# --- DNS: resolve once, check every answer, connect to what was checked ----------------------------------------------


class Resolver:
    """Answers from a script, one list per call, repeating the last: a rebinding attacker's DNS."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers, self.calls = list(answers), []  # type: ignore[var-annotated]

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_connects_to_the_address_it_checked(serve: Start) -> None:
    server = await serve(ok)
    # Allowed by name; the first answer is loopback (where the server is), later ones would go elsewhere.
    resolve = Resolver(["127.0.0.1"], ["10.9.9.9"], ["10.9.9.9"])
    async with client(f"feeds.example:{server.port}", resolve=resolve) as http:
        got = await http.get_document(f"http://feeds.example:{server.port}/x")
    assert got.content == b"hello /x" and got.url == f"http://feeds.example:{server.port}/x"
    assert resolve.calls == [("feeds.example", server.port)]  # resolved once for the one hop
    [seen] = server.hits
    assert seen.headers["host"] == f"feeds.example:{server.port}"  # the name travels in the Host header


async def test_rebinding_answer_after_the_check_is_never_used(serve: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    # Not allowed by name: the first (checked) answer passes the policy, a second lookup would say 127.0.0.1. So that
    # no test traffic leaves the machine, 127.0.0.2 plays the public address (the policy is told so) and has a server
    # of its own on the same port: the request must land there, and the resolver must be asked only once.
    internal = await serve(ok)
    public = await serve(ok, host="127.0.0.2", port=internal.port)
    monkeypatch.setattr(ingest_http, "refusal", lambda address: None if address == "127.0.0.2" else "loopback")
    resolve = Resolver(["127.0.0.2"], ["127.0.0.1"])
    async with client(resolve=resolve) as http:
        got = await http.get_document(f"http://rebind.example:{internal.port}/a")
        with pytest.raises(RefusedURL, match="rebind.example resolves to 127.0.0.1"):  # the next lookup: checked too
            await http.get_document(f"http://rebind.example:{internal.port}/b")
    assert got.content == b"hello /a"
    assert resolve.calls == [("rebind.example", internal.port)] * 2  # once per fetch, never between check and connect
    assert [seen.path for seen in public.hits] == ["/a"] and internal.hits == []


async def test_private_answers_for_a_name_refused(serve: Start) -> None:
    server = await serve(ok)
    for answer, reason in (
        (["127.0.0.1"], "loopback"),
        (["8.8.8.8", "10.1.2.3"], "10.1.2.3, which is private"),  # every address is checked, not only the first
        (["::ffff:169.254.169.254"], "IPv4-mapped form of 169.254.169.254"),
    ):
        resolve = Resolver(answer)
        async with client(resolve=resolve) as http:
            with pytest.raises(RefusedURL, match=reason) as refused:
                await http.get_document(f"http://evil.example:{server.port}/")
        assert f"evil.example resolves to {answer[-1]}" in str(refused.value)
    assert server.hits == []


# --- caps and deadlines ---------------------------------------------------------------------------------------------


async def big(seen: Seen, writer: asyncio.StreamWriter) -> bool:
    if seen.path == "/announced":
        return await respond(writer, 200, b"x" * 5000)
    # No Content-Length, body until close, and it never ends: the client must stop reading by itself.
    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    while True:
        writer.write(b"y" * 512)
        await writer.drain()
        await asyncio.sleep(0.001)


async def test_documents_over_the_cap_refused(serve: Start) -> None:
    server = await serve(big)
    async with client(server.allow, max_document_bytes=4000) as http:
        with pytest.raises(TooLarge, match="announces 5000 bytes"):
            await http.get_document(server.url("/announced"))
        with pytest.raises(TooLarge, match="more than the limit of 4000 bytes"):
            await http.get_document(server.url("/endless"))
    assert len(server.hits) == 2  # not retried


async def test_downloads_over_the_cap_refused_and_removed(serve: Start, tmp_path: Path) -> None:
    server = await serve(big)
    async with client(server.allow, max_bytes=100_000) as http:
        with pytest.raises(TooLarge, match="announces"):
            await http.download(server.url("/announced"), tmp_path / "a.bin", max_bytes=4000)
        with pytest.raises(TooLarge, match="more than the limit of 100000 bytes"):
            await http.download(server.url("/endless"), tmp_path / "b.bin")
    assert list(tmp_path.iterdir()) == []


async def test_download_streams_to_the_file(serve: Start, tmp_path: Path) -> None:
    body = bytes(range(256)) * 1000

    async def media(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.path == "/episode":
            return await respond(writer, 302, b"", {"Location": "/files/episode.mp3"})
        return await respond(writer, 200, body, {"Content-Type": "audio/mpeg"})

    server = await serve(media)
    dest = tmp_path / "episode.mp3"
    async with client(server.allow) as http:
        got = await http.download(server.url("/episode"), dest)
    assert dest.read_bytes() == body
    assert got.path == dest and got.size == len(body) and got.sha256 == hashlib.sha256(body).hexdigest()
    assert got.url == server.url("/files/episode.mp3") and got.content_type == "audio/mpeg"
    assert server.hits[-1].headers["accept-encoding"] == "identity"
    assert list(tmp_path.iterdir()) == [dest]


async def test_failed_download_leaves_nothing(serve: Start, tmp_path: Path) -> None:
    server = await serve(lambda seen, writer: respond(writer, 404))
    async with client(server.allow) as http:
        with pytest.raises(FetchFailed) as failed:
            await http.download(server.url("/gone"), tmp_path / "x.bin")
    assert failed.value.status == 404
    assert list(tmp_path.iterdir()) == []


async def test_a_trickling_server_hits_the_overall_deadline(serve: Start) -> None:
    async def trickle(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        while True:  # a byte well within the read timeout each time, forever
            writer.write(b"z")
            await writer.drain()
            await asyncio.sleep(0.1)

    server = await serve(trickle)
    started = time.monotonic()
    async with client(server.allow, timeout=0.5, retries=0) as http:
        with pytest.raises(FetchFailed, match="deadline"):
            await http.get_document(server.url())
    assert time.monotonic() - started >= 1.0  # 2 × timeout


# --- retries --------------------------------------------------------------------------------------------------------


async def test_transient_status_retried(serve: Start) -> None:
    server = await serve(scripted((503, {}), (502, {})))
    async with client(server.allow) as http:
        got = await http.get_document(server.url("/x"))
    assert got.status == 200 and len(server.hits) == 3


async def test_retries_run_out(serve: Start) -> None:
    server = await serve(scripted((503, {}), (504, {}), (503, {})))
    async with client(server.allow, retries=2) as http:
        with pytest.raises(FetchFailed) as failed:
            await http.get_document(server.url("/x"))
    assert failed.value.status == 503 and len(server.hits) == 3


async def test_client_errors_not_retried(serve: Start) -> None:
    for status in (404, 400, 403, 410):
        server = await serve(scripted((status, {})))
        async with client(server.allow) as http:
            with pytest.raises(FetchFailed) as failed:
                await http.get_document(server.url("/x"))
        assert failed.value.status == status and len(server.hits) == 1
        assert server.url("/x") in str(failed.value)


async def test_retry_after_honoured(serve: Start) -> None:
    server = await serve(scripted((429, {"Retry-After": "1"})))
    started = time.monotonic()
    async with client(server.allow) as http:
        got = await http.get_document(server.url())
    assert got.status == 200 and len(server.hits) == 2
    assert time.monotonic() - started >= 1.0


async def test_long_retry_after_gives_up_at_once(serve: Start) -> None:
    server = await serve(scripted((503, {"Retry-After": "3600"})))
    async with client(server.allow) as http:
        with pytest.raises(FetchFailed) as failed:
            await http.get_document(server.url())
    assert failed.value.status == 503 and len(server.hits) == 1


async def test_connection_errors_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with client(f"127.0.0.1:{port}", retries=1) as http:
        with pytest.raises(FetchFailed, match="ConnectError") as failed:
            await http.get_document(f"http://127.0.0.1:{port}/")
    assert failed.value.status is None


async def test_not_modified_passed_through(serve: Start) -> None:
    async def conditional(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.headers.get("if-none-match") == '"v1"':
            return await respond(writer, 304, b"", {"ETag": '"v1"'})
        return await ok(seen, writer)

    server = await serve(conditional)
    async with client(server.allow) as http:
        first = await http.get_document(server.url("/feed"))
        again = await http.get_document(server.url("/feed"), headers={"If-None-Match": first.headers["etag"]})
    assert first.status == 200 and again.status == 304 and again.content == b""
    assert len(server.hits) == 2


# --- per-host rate limit --------------------------------------------------------------------------------------------


async def test_requests_per_host_are_paced(serve: Start) -> None:
    server = await serve(ok)
    async with client(server.allow, host_rps=5.0) as http:
        started = time.monotonic()
        await asyncio.gather(*(http.get_document(server.url(f"/{i}")) for i in range(10)))
        elapsed = time.monotonic() - started
    assert len(server.hits) == 10
    assert elapsed >= 1.5  # ten starts at most five per second apart: 9 gaps of 0.2 s


# --- https: connect to the checked address, verify the certificate against the name ---------------------------------


def make_certificates(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for `name` only (no IP address in it)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ingest test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_pem, cert_pem, key_pem


async def test_https_verifies_the_name_while_connecting_by_address(serve: Start, tmp_path: Path) -> None:
    ca_pem, cert_pem, key_pem = make_certificates(tmp_path, "feeds.example")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_pem, key_pem)
    names: list[str | None] = []

    def record_name(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        names.append(name)

    server_context.sni_callback = record_name
    server = await serve(ok, server_context)
    port = server.port
    trusted = ssl.create_default_context(cafile=str(ca_pem))
    resolve = Resolver(["127.0.0.1"])  # both names point at the server, which only holds feeds.example's certificate
    allow = (f"feeds.example:{port}", f"other.example:{port}")
    async with client(*allow, resolve=resolve, verify=trusted, retries=0) as http:
        got = await http.get_document(f"https://feeds.example:{port}/secure")
        assert got.content == b"hello /secure" and got.url == f"https://feeds.example:{port}/secure"
        assert names == ["feeds.example"]  # SNI carried the name, although the socket went to 127.0.0.1
        assert server.hits[0].headers["host"] == f"feeds.example:{port}"
        # A second name on the same address must get its own handshake: the connection verified for feeds.example
        # (still open, keep-alive) may not carry it, and the certificate does not cover other.example.
        with pytest.raises(FetchFailed, match=r"(?i)certificate verify failed"):
            await http.get_document(f"https://other.example:{port}/secure")
        assert names == ["feeds.example", "other.example"]
        # And by IP literal, no name the certificate covers: refused by verification too (allow-listed address).
    async with client(f"127.0.0.1:{port}", verify=trusted, retries=0) as http:
        with pytest.raises(FetchFailed, match=r"(?i)certificate verify failed"):
            await http.get_document(f"https://127.0.0.1:{port}/secure")
    assert len(server.hits) == 1  # only the verified request got through
