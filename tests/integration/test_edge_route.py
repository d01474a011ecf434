"""The signed edge route over HTTP (ASGI): streaming, ranges, validators, cache headers, CORS and refusals."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from cms.media.storage import Area, LocalStorage, Storage
from plugins.edge import edge_routes, parse_keys, sign
from plugins.edge.signing import verify_url_path

SHA = "cd" * 32
SCOPE = f"{SHA}/hls-beef/hls/"
KEYS = parse_keys("k1:first-secret-0123456789abcdef,k2:second-secret-0123456789abcdef")
NOW = 1_700_000_000.0
EXPIRES = int(NOW) + 600
BLOB = os.urandom(50 * 1024)
SEGMENT = f"{SCOPE}720p/seg_00000.m4s"

MASTER_PLAYLIST = b"""#EXTM3U
#EXT-X-VERSION:7
#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720
720p/index.m3u8
"""
MEDIA_PLAYLIST = b"""#EXTM3U
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.0,
seg_00000.m4s
#EXT-X-ENDLIST
"""

OBJECTS = {
    SEGMENT: BLOB,
    f"{SCOPE}master.m3u8": MASTER_PLAYLIST,
    f"{SCOPE}720p/index.m3u8": MEDIA_PLAYLIST,
    f"{SCOPE}720p/init.mp4": b"init" * 10,
    f"{SCOPE}720p/seg_00000.ts": b"\x47" * 188,
    f"{SCOPE}poster.jpg": b"\xff\xd8jpeg",
    f"{SCOPE}storyboard/storyboard.vtt": b"WEBVTT\n",
    f"{SCOPE}storyboard/sheet-1.jpg": b"\xff\xd8sheet",
    f"{SCOPE}images/640w.webp": b"RIFFwebp",
    f"{SCOPE}empty.m4s": b"",
    f"{SHA}/hls-other/hls/master.m3u8": b"#EXTM3U\nsecret other scope\n",
}


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def storage(tmp_path: Path) -> Storage:
    store = LocalStorage(tmp_path)
    for key, data in OBJECTS.items():
        await store.write(Area.PREVIEWS, key, chunks(data))
    return store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(storage: Storage, clock: Clock) -> Starlette:
    return Starlette(routes=edge_routes(storage=storage, keys=KEYS, clock=clock))


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cdn.test") as http:
        yield http


def link(key: str = SEGMENT, scope: str = SCOPE, kid: str = "k2", expires: int = EXPIRES) -> str:
    return sign(KEYS, kid, scope, key, expires)


async def raw_get(app: Starlette, raw_path: bytes, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Send a request with an exact raw path (httpx would normalise '..' away before sending)."""
    decoded = raw_path.decode("latin-1")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": decoded,
        "raw_path": raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"cdn.test")],
        "client": ("127.0.0.1", 1),
        "server": ("cdn.test", 80),
    }
    sent: list[dict] = []
    received = False

    async def receive() -> dict:
        nonlocal received
        if received:  # the client stays connected: later receives wait (the app cancels them when done)
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def _flip(url: str, part: int) -> str:
    """Change the first character of one '/'-separated component of the URL path."""
    parts = url.split("/")
    parts[part] = ("B" if parts[part][0] == "A" else "A") + parts[part][1:]
    return "/".join(parts)


def assert_forbidden(status: int, body: bytes | str) -> None:
    assert status == 403
    assert (body.decode() if isinstance(body, bytes) else body) == "forbidden\n"


# --- full body, ranges -----------------------------------------------------------------------------------


async def test_full_get_streams_the_object(client):
    response = await client.get(link())
    assert response.status_code == 200
    assert response.content == BLOB
    assert response.headers["content-length"] == str(len(BLOB))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "video/iso.segment"
    assert re.fullmatch(r'"[^"]+"', response.headers["etag"])


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, len(BLOB) - 1),
        ("bytes=-100", len(BLOB) - 100, len(BLOB) - 1),
        ("bytes=51000-999999", 51000, len(BLOB) - 1),
        ("bytes=-999999", 0, len(BLOB) - 1),
        (" bytes=5-9 ", 5, 9),
    ],
)
async def test_single_ranges(client, spec, start, end):
    response = await client.get(link(), headers={"range": spec})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(BLOB)}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == BLOB[start : end + 1]


@pytest.mark.parametrize("spec", ["bytes=51200-", "bytes=60000-60010", "bytes=-0"])
async def test_unsatisfiable_range_is_416(client, spec):
    response = await client.get(link(), headers={"range": spec})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(BLOB)}"


async def test_any_range_on_an_empty_object_is_416(client):
    response = await client.get(link(f"{SCOPE}empty.m4s"), headers={"range": "bytes=0-"})
    assert (response.status_code, response.headers["content-range"]) == (416, "bytes */0")
    full = await client.get(link(f"{SCOPE}empty.m4s"))
    assert (full.status_code, full.content, full.headers["content-length"]) == (200, b"", "0")


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=0-1,5-6",
        "bytes=0-0," + ",".join(["1-1"] * 5000),
        "bytes=" + "1" * 40 + "-",
        "items=0-10",
        "bytes=10-5",
        "bytes=-",
        "bytes=abc",
        "bytes 0-10",
        "bytes=0-10;x",
    ],
)
async def test_multi_and_absurd_ranges_get_the_full_body(client, spec):
    response = await client.get(link(), headers={"range": spec})
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.content == BLOB


async def test_if_range_mismatch_gets_the_full_body(client):
    etag = (await client.head(link())).headers["etag"]
    matched = await client.get(link(), headers={"range": "bytes=0-9", "if-range": etag})
    assert (matched.status_code, matched.content) == (206, BLOB[:10])
    stale = await client.get(link(), headers={"range": "bytes=0-9", "if-range": '"stale"'})
    assert (stale.status_code, stale.content) == (200, BLOB)


# --- validators, HEAD, types, caching, CORS --------------------------------------------------------------


async def test_if_none_match_gives_304(client):
    first = await client.get(link())
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        again = await client.get(link(), headers={"if-none-match": header})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await client.get(link(), headers={"if-none-match": '"nope"'})).status_code == 200


async def test_head_has_headers_and_no_body(client):
    response = await client.head(link())
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(BLOB))
    ranged = await client.head(link(), headers={"range": "bytes=10-19"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(BLOB)}"
    assert ranged.headers["content-length"] == "10"


@pytest.mark.parametrize(
    ("key", "content_type", "cache"),
    [
        ("master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=60"),
        ("720p/index.m3u8", "application/vnd.apple.mpegurl", "public, max-age=60"),
        ("720p/init.mp4", "video/mp4", "public, max-age=31536000, immutable"),
        ("720p/seg_00000.m4s", "video/iso.segment", "public, max-age=31536000, immutable"),
        ("720p/seg_00000.ts", "video/mp2t", "public, max-age=31536000, immutable"),
        ("poster.jpg", "image/jpeg", "public, max-age=31536000, immutable"),
        ("storyboard/storyboard.vtt", "text/vtt", "public, max-age=60"),
        ("storyboard/sheet-1.jpg", "image/jpeg", "public, max-age=31536000, immutable"),
        ("images/640w.webp", "image/webp", "public, max-age=31536000, immutable"),
    ],
)
async def test_content_types_and_cache_headers(client, key, content_type, cache):
    response = await client.get(link(SCOPE + key))
    assert response.status_code == 200
    assert response.content == OBJECTS[SCOPE + key]
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.headers["cache-control"] == cache
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_cors_headers_and_preflight(client):
    response = await client.get(link(), headers={"origin": "https://player.example", "range": "bytes=0-1"})
    assert response.headers["access-control-allow-origin"] == "*"
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"content-range", "content-length", "etag"} <= exposed
    preflight = await client.options(
        link(),
        headers={
            "origin": "https://player.example",
            "access-control-request-method": "GET",
            "access-control-request-headers": "range",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "range" in preflight.headers["access-control-allow-headers"].lower()
    assert "GET" in preflight.headers["access-control-allow-methods"]
    refused = await client.get(link().replace("/k2/", "/k1/"))
    assert refused.headers["access-control-allow-origin"] == "*"  # players can read the status


# --- refusals ---------------------------------------------------------------------------------------------


async def test_expired_link_is_refused(client, clock):
    assert (await client.get(link())).status_code == 200
    clock.now = EXPIRES + 1
    response = await client.get(link())
    assert_forbidden(response.status_code, response.text)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda u: u.replace("/k2/", "/k1/"),  # another configured kid: signature no longer matches
        lambda u: u.replace("/k2/", "/k9/"),  # unknown kid
        lambda u: u.replace(f"/{EXPIRES}/", f"/{EXPIRES + 1}/"),
        lambda u: _flip(u, 5),  # signature
        lambda u: _flip(u, 4),  # scope
        lambda u: u.replace(f"{SHA}/hls-beef/hls/720p", f"{SHA}/hls-other/hls/720p"),  # outside the scope
        lambda u: u.replace("720p/seg", "720p/%2e%2e/%2e%2e/hls-other/seg"),
        lambda u: u.replace("720p/seg", "720p/%2E%2E%2f%2E%2E%2fseg"),
        lambda u: u.replace("720p/seg", "720p//seg"),
        lambda u: u.replace("720p/seg", "720p%2fseg"),
        lambda u: u.replace("720p/seg", "720p/%00seg"),
        lambda u: u.replace("720p/seg", "720p%5cseg"),
        lambda u: u + "/" + "a" * 3000,
    ],
)
async def test_tampered_links_are_refused_generically(client, mangle):
    tampered = mangle(link())
    assert tampered != link()
    response = await client.get(tampered)
    assert_forbidden(response.status_code, response.text)
    assert response.headers["cache-control"] == "no-store"


async def test_tampered_scope_is_refused(client):
    _, _, kid, expires, scope_b64, signature, key = link().split("/", 6)
    other = sign(KEYS, "k2", f"{SHA}/hls-other/hls/", f"{SHA}/hls-other/hls/master.m3u8", EXPIRES)
    other_scope_b64 = other.split("/")[5]
    response = await client.get(f"/edge/{kid}/{expires}/{other_scope_b64}/{signature}/{SHA}/hls-other/hls/master.m3u8")
    assert_forbidden(response.status_code, response.text)


@pytest.mark.parametrize(
    "raw_suffix",
    [
        b"720p/../../hls-other/hls/master.m3u8",
        b"../../hls-other/hls/master.m3u8",
        b"720p/./seg_00000.m4s",
        b"720p/seg\x00.m4s",
        b"720p\\seg_00000.m4s",
        b"720p/%2e%2e/720p/seg_00000.m4s",
        b"720p//seg_00000.m4s",
    ],
)
async def test_raw_traversal_paths_are_refused(app, raw_suffix):
    base = link().encode()[: -len(SEGMENT.encode())] + SCOPE.encode()
    status, headers, body = await raw_get(app, base + raw_suffix)
    assert_forbidden(status, body)


async def test_raw_path_is_what_is_verified(app):
    status, _, body = await raw_get(app, link().encode())
    assert (status, body) == (200, BLOB)
    status, _, body = await raw_get(app, link().encode(), method="HEAD")
    assert (status, body) == (200, b"")


async def test_missing_object_is_404_only_after_verification(client):
    response = await client.get(link(f"{SCOPE}720p/seg_99999.m4s"))
    assert response.status_code == 404
    unsigned = link(f"{SCOPE}720p/seg_99999.m4s").replace("/k2/", "/k9/")
    assert_forbidden((r := await client.get(unsigned)).status_code, r.text)


async def test_retired_key_and_rotation(storage):
    old = link(kid="k1")
    both = Starlette(routes=edge_routes(storage=storage, keys=KEYS, clock=lambda: NOW))
    retired = Starlette(
        routes=edge_routes(storage=storage, keys=parse_keys("k2:second-secret-0123456789abcdef"), clock=lambda: NOW)
    )
    for app_, expected in ((both, 200), (retired, 403)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_), base_url="http://cdn.test") as http:
            assert (await http.get(old)).status_code == expected
            assert (await http.get(link(kid="k2"))).status_code == 200


# --- storage failures -------------------------------------------------------------------------------------


class BrokenStorage(LocalStorage):
    def __init__(self, base: Path, fail: str) -> None:
        super().__init__(base)
        self.fail = fail

    async def stat(self, area, key):
        if self.fail == "stat":
            raise OSError("disk on fire")
        return await super().stat(area, key)

    async def read(self, area, key, *, start=0, end=None):
        if self.fail == "read":
            raise OSError("disk on fire")
        async for chunk in super().read(area, key, start=start, end=end):
            yield chunk


@pytest.mark.parametrize("fail", ["stat", "read"])
async def test_storage_errors_are_not_500(tmp_path, fail):
    store = BrokenStorage(tmp_path, fail)
    await store.write(Area.PREVIEWS, SEGMENT, chunks(BLOB))
    app = Starlette(routes=edge_routes(storage=store, keys=KEYS, clock=lambda: NOW))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cdn.test") as http:
        response = await http.get(link())
    assert response.status_code == 503
    assert "fire" not in response.text


async def test_object_deleted_between_stat_and_read_is_404(tmp_path):
    class Vanishing(LocalStorage):
        async def read(self, area, key, *, start=0, end=None):
            await self.delete(area, key)
            async for chunk in super().read(area, key, start=start, end=end):
                yield chunk

    store = Vanishing(tmp_path)
    await store.write(Area.PREVIEWS, SEGMENT, chunks(BLOB))
    app = Starlette(routes=edge_routes(storage=store, keys=KEYS, clock=lambda: NOW))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cdn.test") as http:
        assert (await http.get(link())).status_code == 404


# --- HLS: relative URIs inherit the token -----------------------------------------------------------------


def _relative_uris(playlist: str) -> list[str]:
    uris = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    uris += re.findall(r'URI="([^"]+)"', playlist)
    return uris


async def test_relative_playlist_uris_inherit_the_signature(client):
    master_url = "http://cdn.test" + link(f"{SCOPE}master.m3u8")
    master = await client.get(master_url)
    assert master.status_code == 200
    fetched = []
    for variant in _relative_uris(master.text):
        variant_url = urljoin(master_url, variant)
        assert verify_url_path(KEYS, urlsplit(variant_url).path, NOW) == f"{SCOPE}720p/index.m3u8"
        media = await client.get(variant_url)
        assert media.status_code == 200
        for uri in _relative_uris(media.text):
            response = await client.get(urljoin(variant_url, uri))
            assert response.status_code == 200
            fetched.append(response.content)
    assert sorted(fetched) == sorted([OBJECTS[f"{SCOPE}720p/init.mp4"], BLOB])
    # A relative URI that climbs out of the scope resolves to a URL that is refused.
    escaped = urljoin(master_url, "../../hls-other/hls/master.m3u8")
    assert_forbidden((r := await client.get(escaped)).status_code, r.text)


# --- optional: the S3 backend -----------------------------------------------------------------------------


async def test_s3_backend_serves_ranges():
    pytest.importorskip("moto")
    from cms.media.storage.s3 import S3Storage
    from tests.support.s3 import ACCESS_KEY, SECRET_KEY, MotoS3

    with MotoS3() as moto:
        store = S3Storage(moto.endpoint_url, moto.create_buckets(), access_key=ACCESS_KEY, secret_key=SECRET_KEY)
        try:
            await store.write(Area.PREVIEWS, SEGMENT, chunks(BLOB))
            app = Starlette(routes=edge_routes(storage=store, keys=KEYS, clock=lambda: NOW))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cdn.test") as http:
                full = await http.get(link())
                part = await http.get(link(), headers={"range": "bytes=-100"})
                cached = await http.get(link(), headers={"if-none-match": full.headers["etag"]})
                missing = await http.get(link(f"{SCOPE}nope.m4s"))
        finally:
            await store.close()
    assert (full.status_code, full.content) == (200, BLOB)
    assert (part.status_code, part.content) == (206, BLOB[-100:])
    assert part.headers["content-range"] == f"bytes {len(BLOB) - 100}-{len(BLOB) - 1}/{len(BLOB)}"
    assert cached.status_code == 304
    assert missing.status_code == 404


# --- local files larger than one mapped window --------------------------------------------------------------

BIG = os.urandom(9 * 1024 * 1024 + 12_345)  # more than two 4 MiB windows, not a multiple of the page size
BIG_KEY = f"{SCOPE}1080p/seg_00001.m4s"


@pytest.fixture
async def big_client(tmp_path: Path, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    store = LocalStorage(tmp_path)
    await store.write(Area.PREVIEWS, BIG_KEY, chunks(BIG))
    app = Starlette(routes=edge_routes(storage=store, keys=KEYS, clock=clock))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cdn.test") as http:
        yield http


async def test_bodies_spanning_several_windows_are_exact(big_client):
    response = await big_client.get(link(BIG_KEY))
    assert response.status_code == 200 and response.content == BIG
    window = 4 * 1024 * 1024
    for start, end in ((window - 10, window + 10), (1, 2 * window + 5), (len(BIG) - 4097, len(BIG) - 1)):
        ranged = await big_client.get(link(BIG_KEY), headers={"range": f"bytes={start}-{end}"})
        assert ranged.status_code == 206
        assert ranged.content == BIG[start : end + 1], (start, end)


async def test_links_out_of_the_previews_area_are_not_followed(tmp_path: Path, clock: Clock):
    """A symlink inside the previews area that points outside it is never served (no file outside the area)."""
    store = LocalStorage(tmp_path)
    await store.write(Area.PREVIEWS, SEGMENT, chunks(BLOB))
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"not for the edge")
    escaping = Path(store.local_path(Area.PREVIEWS, SEGMENT)).with_name("seg_00009.m4s")
    escaping.symlink_to(secret)
    app = Starlette(routes=edge_routes(storage=store, keys=KEYS, clock=clock))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cdn.test") as http:
        response = await http.get(link(f"{SCOPE}720p/seg_00009.m4s"))
    assert response.status_code == 404
    assert b"not for the edge" not in response.content
