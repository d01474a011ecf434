"""PDFs as first-class media, driven as a client drives them: uploaded through GraphQL, persisted and processed by
the real worker (probe and rendering in the isolated child), their first page served as a poster and WebP sizes
through the signed edge route, their text found by search once the episode is public, on both search backends.
Unusable PDFs (password, absurd pages, damage, too many pages, a deflate bomb) fail with a reason on the asset."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from opensearchpy import AsyncOpenSearch
from PIL import Image

from cms.api.ids import from_global_id
from cms.core.settings import Settings
from cms.media.models import AssetText
from search.backend import SearchQuery
from search.opensearch.backend import OpenSearchSearch
from tests.support import pdfs
from tests.support.api import Api, operation
from tests.support.jobs import drain
from tests.support.uploads import get_asset, upload_direct

ASSET_PREVIEW = operation("AssetPreview")
SEARCH = operation("Search")
WIDTHS = [320, 640, 960, 1280, 1920, 2560]  # cms.media.transcode.images.DEFAULT_WIDTHS: a page is drawn 2560 wide

MINUTES = pdfs.text_pdf(
    ["Harbour board minutes\nAttendance and apologies", "Item 4: the quokka motion was carried", "Any other business"],
    title="Harbour board minutes",
    author="The port clerk",
)


def _pk(global_id: str) -> int:
    return int(from_global_id(global_id)[1])


async def _program(api: Api, title: str) -> str:
    created = await api.data(operation("CreateProgram"), {"input": {"title": title, "language": "en"}}, role="editor")
    program = created["createProgram"]["id"]
    await api.data(operation("PublishProgram"), {"id": program}, role="editor")
    return program


async def _episode(api: Api, program: str, title: str, *, publish: bool) -> str:
    variables = {"input": {"programId": program, "title": title}}
    episode = (await api.data(operation("CreateEpisode"), variables, role="editor"))["createEpisode"]["id"]
    if publish:
        await _publish(api, episode)
    return episode


async def _publish(api: Api, episode: str) -> None:
    published = await api.data(operation("PublishEpisode"), {"id": episode}, role="editor")
    assert published["publishEpisode"]["__typename"] == "Episode", published


async def _upload_pdf(api: Api, episode: str, data: bytes, filename: str = "minutes.pdf") -> str:
    done = await upload_direct(api, episode, data, filename=filename, content_type="application/pdf")
    return str(done["id"])


async def _preview(api: Api, asset_id: str) -> dict[str, Any]:
    return (await api.data(ASSET_PREVIEW, {"id": asset_id}, role="editor"))["node"]


async def _webp_size(api: Api, url: str) -> tuple[int, int]:
    response = await api.client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp", response.text[:200]
    with Image.open(io.BytesIO(response.content)) as decoded:
        assert decoded.format == "WEBP"
        return decoded.size


# -- processing ----------------------------------------------------------------------------------------------------


async def test_a_pdf_gets_its_probe_a_preview_thumbnails_and_its_text(api: Api, settings: Settings) -> None:
    episode = await _episode(api, await _program(api, "Harbour board"), "March meeting", publish=False)
    asset_id = await _upload_pdf(api, episode, MINUTES)
    await drain(settings)

    asset = await get_asset(api, asset_id)
    assert (asset["kind"], asset["status"], asset["failureReason"]) == ("DOCUMENT", "READY", None), asset
    assert asset["probe"] == {
        "format": "pdf",
        "pages": 3,
        "page_width_pt": 612.0,
        "page_height_pt": 792.0,
        "pdf_version": "1.7",
        "title": "Harbour board minutes",
        "author": "The port clerk",
    }
    assert [(j["kind"], j["status"]) for j in asset["jobs"]] == [
        ("persist_asset", "SUCCEEDED"),
        ("process_asset", "SUCCEEDED"),
    ]

    preview = await _preview(api, asset_id)
    ready = {(r["kind"], r["name"]): r for r in preview["renditions"] if r["status"] == "READY"}
    assert set(ready) == {("POSTER", "preview")} | {("IMAGE", f"{w}w") for w in WIDTHS}, preview["renditions"]
    # Letter is 612 x 792 pt: 2560 px wide is 3313 px tall, and each size keeps the page's proportions.
    assert (ready[("POSTER", "preview")]["width"], ready[("POSTER", "preview")]["height"]) == (2560, 3313)
    playback = preview["playback"]
    assert await _webp_size(api, playback["posterUrl"]) == (2560, 3313)
    assert [image["width"] for image in playback["images"]] == WIDTHS
    for image in playback["images"]:
        assert await _webp_size(api, image["url"]) == (image["width"], image["height"])
        assert image["height"] == round(image["width"] * 792 / 612)
    assert playback["srcset"].startswith(playback["images"][0]["url"] + " 320w, ")

    # The text of every page, for search; it is not among the published renditions.
    text = await AssetText.get(asset_id=_pk(asset_id))
    assert (text.pages, text.truncated) == (3, False)
    assert text.text == (
        "Harbour board minutes\nAttendance and apologies\n\nItem 4: the quokka motion was carried\n\nAny other business"
    )


async def test_the_text_kept_is_capped(api: Api, settings: Settings) -> None:
    episode = await _episode(api, await _program(api, "Harbour board"), "April meeting", publish=False)
    asset_id = await _upload_pdf(api, episode, MINUTES)
    await drain(settings.model_copy(update={"document_max_text_bytes": 30}))

    assert (await get_asset(api, asset_id))["status"] == "READY"
    text = await AssetText.get(asset_id=_pk(asset_id))
    assert (text.text, text.pages, text.truncated) == ("Harbour board minutes\nAttendan", 1, True)


async def test_a_pdf_restricted_by_an_owner_password_only_is_read(api: Api, settings: Settings) -> None:
    """Encrypted with an empty user password ("no copying" and the like): every reader opens it without asking."""
    episode = await _episode(api, await _program(api, "Harbour board"), "May meeting", publish=False)
    data = pdfs.text_pdf(["Restricted but readable"], title="Restricted", user_password="")
    asset_id = await _upload_pdf(api, episode, data)
    await drain(settings)

    asset = await get_asset(api, asset_id)
    assert asset["status"] == "READY" and asset["probe"]["encrypted"] is True, asset
    assert asset["probe"]["title"] == "Restricted"
    assert (await AssetText.get(asset_id=_pk(asset_id))).text == "Restricted but readable"


# -- refusals ------------------------------------------------------------------------------------------------------

UNUSABLE = {
    "password": (pdfs.text_pdf(["top secret"], user_password="hunter2"), "the PDF is password-protected"),
    "huge page": (
        pdfs.text_pdf(["a poster the size of a city"], size=(5_000_000, 5_000_000)),
        "page 1 of the PDF has an impossible size (5,000,000 x 5,000,000 pt",
    ),
    "damaged": (b"%PDF-1.7\n" + b"\x00 this is not a PDF body " * 40, "the file is not a readable PDF"),
    "too many pages": (pdfs.text_pdf(["one", "two", "three"]), "the PDF has 3 pages; at most 2 are accepted"),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
async def test_an_unusable_pdf_fails_with_a_reason(api: Api, settings: Settings, case: str) -> None:
    data, reason = UNUSABLE[case]
    episode = await _episode(api, await _program(api, "Harbour board"), "Refused", publish=False)
    asset_id = await _upload_pdf(api, episode, data)
    await drain(settings.model_copy(update={"document_max_pages": 2}))

    asset = await get_asset(api, asset_id)
    assert asset["status"] == "FAILED" and asset["failureReason"].startswith(reason), asset
    # Refused by the probe: nothing is processed, and the job does not retry what cannot succeed.
    assert [(j["kind"], j["status"], j["attempts"]) for j in asset["jobs"]] == [("persist_asset", "DEAD", 1)]


async def test_a_deflate_bomb_fails_in_the_child_and_the_worker_carries_on(api: Api, settings: Settings) -> None:
    """A page whose content inflates to 4 GiB (4 MiB on the wire): its structure is sound, so the probe accepts it,
    and drawing it runs into the reading child's memory limit. The worker goes on to the next PDF."""
    program = await _program(api, "Harbour board")
    bomb = await _upload_pdf(api, await _episode(api, program, "Bomb", publish=False), pdfs.bomb_pdf(4 * 1024**3))
    fine = await _upload_pdf(api, await _episode(api, program, "Fine", publish=False), MINUTES)
    await drain(settings.model_copy(update={"document_memory_bytes": 1024**3}))

    asset = await get_asset(api, bomb)
    assert (asset["status"], asset["probe"]["pages"]) == ("FAILED", 1), asset
    assert "needs more memory than allowed" in asset["failureReason"], asset["failureReason"]
    assert [(j["kind"], j["status"], j["attempts"]) for j in asset["jobs"]] == [
        ("persist_asset", "SUCCEEDED", 1),
        ("process_asset", "DEAD", 1),
    ]
    assert (await get_asset(api, fine))["status"] == "READY"


# -- search, on both backends --------------------------------------------------------------------------------------


@pytest.fixture(params=["postgres", "opensearch"])
async def backend_settings(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[tuple[Settings, OpenSearchSearch | None]]:
    """The worker's settings for one search backend, and on OpenSearch a client of the test's own alias (the API
    server searches PostgreSQL, so OpenSearch is asked directly, with the same visibility rules)."""
    if request.param == "postgres":
        yield settings, None
        return
    url = request.getfixturevalue("opensearch_url")
    alias = f"cms-test-{uuid.uuid4().hex[:12]}"
    backend = OpenSearchSearch(url=url, index=alias)
    try:
        yield settings.model_copy(update={"opensearch_url": url, "search_index": alias}), backend
    finally:
        await backend.close()
        admin = AsyncOpenSearch(hosts=[url])
        try:
            await admin.indices.delete(index=f"{alias}*", ignore_unavailable=True, allow_no_indices=True)
        finally:
            await admin.close()


async def _found(
    api: Api, backend: OpenSearchSearch | None, text: str, *, drafts: bool = False
) -> list[tuple[str, int]]:
    """(kind, id) of the hits: anonymously, or as an editor with drafts."""
    if backend is not None:
        page = await backend.search(SearchQuery(text=text, now=datetime.now(UTC), include_drafts=drafts))
        return [(hit.kind.value, hit.id) for hit in page.hits]
    variables: dict[str, Any] = {"query": text, "filter": {"includeDrafts": True} if drafts else None}
    found = (await api.data(SEARCH, variables, role="editor" if drafts else None))["search"]
    return [(edge["node"]["__typename"].lower(), _pk(edge["node"]["id"])) for edge in found["edges"]]


async def test_a_word_inside_a_pdf_finds_its_episode_once_public(
    api: Api, backend_settings: tuple[Settings, OpenSearchSearch | None]
) -> None:
    worker_settings, backend = backend_settings
    program = await _program(api, "Harbour board")
    public = await _episode(api, program, "March meeting", publish=True)
    draft = await _episode(api, program, "April meeting", publish=False)
    await drain(worker_settings)  # both indexed before their documents arrive
    assert await _found(api, backend, "quokka", drafts=True) == []

    # The word is on page 2. Nothing but the documents becoming ready re-indexes these episodes.
    await _upload_pdf(api, public, MINUTES)
    april = pdfs.text_pdf(["Harbour board minutes", "Item 2: the wombat census"])
    await _upload_pdf(api, draft, april, filename="april.pdf")
    await drain(worker_settings)

    assert await _found(api, backend, "quokka") == [("episode", _pk(public))]
    assert await _found(api, backend, "wombat") == []  # its episode is a draft: not for the public
    assert await _found(api, backend, "wombat", drafts=True) == [("episode", _pk(draft))]

    await _publish(api, draft)
    await drain(worker_settings)
    assert await _found(api, backend, "wombat") == [("episode", _pk(draft))]
    # A title still outranks a document's text: "harbour" is in the program's title and in both PDFs.
    found = await _found(api, backend, "harbour")
    assert found[0] == ("program", _pk(program)) and sorted(found[1:]) == sorted(
        [("episode", _pk(public)), ("episode", _pk(draft))]
    ), found
