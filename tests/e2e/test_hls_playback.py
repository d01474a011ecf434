"""HLS playback in a real browser through the signed edge route.

Debian's chromium (Playwright, headless) opens tests/e2e/player.html from its own loopback origin; hls.js plays
the signed master URL that `Episode.mediaAsset.playback.hlsUrl` gives an anonymous viewer of a published episode.
The clip is uploaded over HTTP and transcoded by the real jobs; 640x360 gets two video rungs (360p and 234p).
Screenshots land in tests/artifacts/e2e/.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response

from tests.support import clips
from tests.support.api import operation
from tests.support.jobs import drain
from tests.support.processes import eventually
from tests.support.uploads import make_episode, upload_direct

SECONDS = 8.0  # fMP4 segments are ~6 s: two per rung, so the forced switch lands on the second one
WIDTH, HEIGHT = 640, 360  # the ladder gives 360p and 234p, and the transcode stays quick on two cores


@dataclass
class Seen:
    """What the page fetched and logged."""

    responses: list[tuple[str, int]] = field(default_factory=list)  # (url, status)
    # url -> Origin headers the browser sent to the edge route (None: a repeat served from the browser's cache)
    origins: defaultdict[str, set[str | None]] = field(default_factory=lambda: defaultdict(set))
    console: list[str] = field(default_factory=list)

    def edge(self) -> list[tuple[str, int]]:
        return [(url, status) for url, status in self.responses if "/edge/" in url]

    def folders_with_segments(self, folders: set[str]) -> set[str]:
        """Variant folders that served at least one media segment (200/206) to the player."""
        hits = set()
        for url, status in self.edge():
            parts = urlsplit(url).path.split("/")
            if status in (200, 206) and url.endswith(".m4s") and len(parts) >= 2 and parts[-2] in folders:
                hits.add(parts[-2])
        return hits


@pytest.fixture
async def player(browser: Browser) -> AsyncIterator[tuple[Page, Seen]]:
    """A fresh browser context and page, recording every response and console line."""
    context = await browser.new_context(viewport={"width": 664, "height": 520})
    opened = await context.new_page()
    seen = Seen()

    async def on_response(response: Response) -> None:
        seen.responses.append((response.url, response.status))
        if "/edge/" in response.url:  # all_headers(): `headers` leaves out security headers such as Origin
            seen.origins[response.url].add((await response.request.all_headers()).get("origin"))

    def on_console(message: ConsoleMessage) -> None:
        seen.console.append(f"{message.type}: {message.text}")

    opened.on("response", on_response)
    opened.on("console", on_console)
    opened.on("pageerror", lambda error: seen.console.append(f"pageerror: {error}"))
    yield opened, seen
    await context.close()


async def _signed_master_url(api, settings, tmp_path: Path, seconds: float) -> str:
    """A published episode with a transcoded clip; the hlsUrl an anonymous viewer gets for it."""
    source = clips.make_video(tmp_path / "e2e.mp4", width=WIDTH, height=HEIGHT, fps=30, seconds=seconds)
    episode = await make_episode(api, "Browser playback")
    await upload_direct(api, episode, source.read_bytes())
    await drain(settings)
    program = (await api.data(operation("Episode"), {"id": episode}, role="editor"))["episode"]["program"]["id"]
    await api.data(operation("PublishProgram"), {"id": program}, role="editor")
    await api.data(operation("PublishEpisode"), {"id": episode}, role="editor")
    found = await api.data(operation("EpisodePlayback"), {"id": episode})  # anonymous
    asset = found["episode"]["mediaAsset"]
    assert asset["status"] == "READY" and asset["playback"]["hlsUrl"], asset
    return asset["playback"]["hlsUrl"]


async def _variant_folders(api, master_url: str) -> set[str]:
    """The folders of the master playlist's video variants (e.g. {'360p', '234p'})."""
    master = await api.client.get(master_url)
    assert master.status_code == 200, master.text
    uris = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    return {urlsplit(urljoin(master_url, uri)).path.split("/")[-2] for uri in uris}


async def _state(page: Page) -> dict[str, Any]:
    return await page.evaluate(
        "() => ({...window.e2e, currentTime: document.getElementById('video').currentTime,"
        " paused: document.getElementById('video').paused,"
        " videoHeight: document.getElementById('video').videoHeight,"
        " currentLevel: window.hls ? window.hls.currentLevel : null})"
    )


async def _wait_for(page: Page, seen: Seen, what: str, check, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the page's state until check(state) holds (about `timeout` seconds of tries); fail with everything known
    when it does not."""
    last: dict[str, Any] = {}

    async def probe() -> dict[str, Any] | None:
        last["state"] = state = await _state(page)
        return state if check(state) else None

    def detail() -> str:
        return f"state: {last.get('state')}\nedge responses: {seen.edge()}\nconsole: {seen.console}"

    return await eventually(probe, what=what, attempts=round(timeout / 0.1), delay=0.1, detail=detail)


def _fatal(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [error for error in state["errors"] if error["fatal"]]


async def test_hls_js_plays_the_signed_master_and_switches_rungs(
    api, settings, live_server, page_server, player, artifacts, tmp_path
):
    page, seen = player
    master_url = await _signed_master_url(api, settings, tmp_path, SECONDS)
    assert master_url.startswith(live_server.url + "/edge/"), master_url
    folders = await _variant_folders(api, master_url)
    assert len(folders) >= 2, f"the ladder should have two video rungs for {WIDTH}x{HEIGHT}: {folders}"

    shot = artifacts / "hls-playing.png"
    await page.goto(page_server.player_url(master_url))
    try:
        state = await _wait_for(page, seen, "MSE support check", lambda s: s["hlsVersion"] is not None)
        assert state["hlsSupported"] and state["mse"] == {"h264": True, "aac": True}, (
            f"chromium lacks H.264/AAC in Media Source Extensions: {state['mse']}"
        )

        # Starts on the lowest rung (startLevel 0), then the test forces the top one for the next fragment.
        # hls.js's own bandwidth estimate may already have moved up by then, so only the first fragment is pinned.
        state = await _wait_for(
            page, seen, "playback past 1 s", lambda s: _fatal(s) or (s["playing"] and s["currentTime"] > 1.0)
        )
        assert not _fatal(state), state["errors"]
        main_fragments = [fragment for fragment in state["fragsLoaded"] if fragment["type"] == "main"]
        assert main_fragments and main_fragments[0]["level"] == 0, state
        assert len(state["levels"]) == len(folders), state
        top = await page.evaluate("() => (window.hls.nextLevel = window.hls.levels.length - 1)")

        state = await _wait_for(
            page,
            seen,
            "currentTime past 6.2 s, segments from two rungs and the top rung on screen",
            lambda s: (
                _fatal(s)
                or (
                    s["currentTime"] > 2.0
                    and len(seen.folders_with_segments(folders)) >= 2
                    and top in s["switched"]
                    and s["currentTime"] > 6.2
                )
            ),
        )
    finally:
        await page.screenshot(path=shot)
        print(f"\nscreenshot: {shot}")

    assert not _fatal(state) and state["videoError"] is None, (state["errors"], state["videoError"])
    assert state["currentTime"] > 2.0 and not state["paused"]
    assert seen.folders_with_segments(folders) == folders, seen.edge()
    assert set(state["levelsLoaded"]) >= {0, top}, state["levelsLoaded"]
    assert state["videoHeight"] == state["levels"][top]["height"] == HEIGHT, state  # the top rung is on screen
    refused = [(url, status) for url, status in seen.edge() if status not in (200, 206, 304)]
    assert not refused, refused
    # Cross-origin for real: the page's origin is not the API's, and the browser said so on every edge request.
    assert page_server.origin != live_server.url
    assert all(page_server.origin in origins for origins in seen.origins.values()), seen.origins
    assert set().union(*seen.origins.values()) <= {page_server.origin, None}, seen.origins


async def test_a_tampered_token_makes_the_player_fail(api, settings, page_server, player, artifacts, tmp_path):
    page, seen = player
    master_url = await _signed_master_url(api, settings, tmp_path, 2.0)
    parts = master_url.split("/")
    at = parts.index("edge") + 4  # /edge/<kid>/<expires>/<scope>/<signature>/<key>
    parts[at] = ("A" if parts[at][0] != "A" else "B") + parts[at][1:]
    tampered = "/".join(parts)

    shot = artifacts / "hls-tampered.png"
    await page.goto(page_server.player_url(tampered))
    try:
        state = await _wait_for(page, seen, "a fatal hls.js error", _fatal, timeout=20)
        await asyncio.sleep(1.0)  # give a wrongly working player the time to start anyway
        state = await _state(page)
    finally:
        await page.screenshot(path=shot)
        print(f"\nscreenshot: {shot}")

    fatal = _fatal(state)
    assert [(e["type"], e["details"], e["code"]) for e in fatal] == [("networkError", "manifestLoadError", 403)], state
    assert seen.edge() == [(tampered, 403)], seen.edge()  # the master only: no playlist or segment was served
    assert state["currentTime"] == 0 and not state["playing"] and state["levels"] == [], state
