"""The editors' admin app in a real browser (Debian's chromium), against the app as deployed: API and worker as
processes, S3 on moto, Keycloak signing editors in with the authorization code flow and PKCE.

Screenshots of every step land in tests/artifacts/e2e/admin/ (gitignored)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.support import clips
from tests.support.admin_browser import Session, open_session, sign_in
from tests.support.admin_site import PART, AdminSite
from tests.support.api import operation
from tests.support.media import padded_mp4

READY = 240_000  # a 10 s clip uploaded, persisted and transcoded on two busy cores


@pytest.fixture
async def editor(browser: Browser, admin_site: AdminSite, admin_artifacts: Path) -> AsyncIterator[Session]:
    session = await open_session(browser, admin_artifacts)
    await sign_in(session, admin_site, "eddie")
    yield session
    await session.context.close()


async def _video(page: Page, script: str) -> object:
    return await page.evaluate(f"() => {{ const video = document.querySelector('video'); {script} }}")


async def _create_program(page: Page, title: str) -> str:
    await page.get_by_role("link", name="Programs").click()
    await page.get_by_role("link", name="New program").click()
    # The list has fields with the same labels: wait for the form's page before filling anything.
    await expect(page.get_by_role("heading", level=1, name="New program")).to_be_visible()
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Description").fill("Made by the browser test.")
    await page.get_by_role("button", name="Create program").click()
    await page.wait_for_url(re.compile(r"/admin/programs/(?!new)[^/]+$"))
    return page.url.rsplit("/", 1)[1]


async def _create_episode(page: Page, program_title: str, title: str) -> str:
    await page.get_by_role("link", name="Episodes").click()
    await page.get_by_role("link", name="New episode").click()
    await expect(page.get_by_role("heading", level=1, name="New episode")).to_be_visible()
    await page.get_by_label("Program").select_option(label=program_title)
    await page.get_by_label("Title").fill(title)
    await page.get_by_role("button", name="Create episode").click()
    await page.wait_for_url(re.compile(r"/admin/episodes/(?!new)[^/]+$"))
    return page.url.rsplit("/", 1)[1]


async def test_an_editor_signs_in_uploads_reviews_and_publishes(
    editor: Session, admin_site: AdminSite, tmp_path: Path
) -> None:
    page = editor.page
    await expect(page.get_by_test_id("who")).to_contain_text("Eddie")
    await editor.shot("signed-in-programs")

    program_id = await _create_program(page, "Evening News")
    await editor.shot("program-created")
    episode_id = await _create_episode(page, "Evening News", "Pilot")
    await editor.shot("episode-created")

    clip = clips.make_video(tmp_path / "pilot.mp4", width=640, height=360, fps=25, seconds=10.0)
    await page.get_by_label("Upload media file").set_input_files(str(clip))
    await expect(page.get_by_role("progressbar", name="Upload progress")).to_be_visible()
    await editor.shot("uploading")
    status = page.get_by_role("status", name="Processing status")
    await expect(status).to_contain_text("ready", timeout=READY)
    await editor.shot("asset-ready")

    await page.get_by_role("link", name="Review", exact=True).click()
    await page.wait_for_url(re.compile(r"/review$"))
    video = page.locator("video")
    await expect(video).to_be_visible()
    await page.wait_for_function("() => document.querySelector('video').readyState >= 2", timeout=60_000)
    await _video(page, "video.muted = true; return video.play();")
    await page.wait_for_function("() => document.querySelector('video').currentTime > 0.5")
    await editor.shot("playing")

    await _video(page, "video.pause(); video.currentTime = 3;")
    await page.wait_for_function("() => Math.abs(document.querySelector('video').currentTime - 3) < 0.05")
    await page.locator("body").press("c")  # the shortcut: focus the comment box at the current time
    comment_box = page.get_by_label("Comment", exact=True)
    await expect(comment_box).to_be_focused()
    await comment_box.fill("Logo flickers here")
    await page.get_by_role("button", name=re.compile(r"Add comment at 00:03")).click()
    comment = page.get_by_role("listitem").filter(has_text="Logo flickers here")
    await expect(comment).to_be_visible()
    await expect(comment).to_contain_text("00:03")
    await editor.shot("commented-at-3s")

    await _video(page, "video.currentTime = 8;")
    await page.wait_for_function("() => document.querySelector('video').currentTime > 7")
    await comment.get_by_role("button", name="Seek to 00:03").click()
    await page.wait_for_function("() => Math.abs(document.querySelector('video').currentTime - 3) < 0.5")
    marker = page.get_by_role("button", name=re.compile(r"Comment at 00:03"))
    await expect(marker).to_be_visible()
    await editor.shot("seeked-to-comment")

    await page.goto(f"{admin_site.admin}programs/{program_id}")
    await page.get_by_role("button", name="Publish now").click()
    await expect(page.get_by_role("status").filter(has_text=re.compile("published", re.I))).to_be_visible()
    await page.goto(f"{admin_site.admin}episodes/{episode_id}")
    await page.get_by_role("button", name="Publish now").click()
    await expect(page.get_by_role("status").filter(has_text=re.compile("published", re.I))).to_be_visible()
    await editor.shot("published")

    async with httpx.AsyncClient(base_url=admin_site.url) as anonymous:
        response = await anonymous.post(
            "/graphql", json={"query": operation("Episode"), "variables": {"id": episode_id}}
        )
    episode = response.json()["data"]["episode"]
    assert episode is not None and episode["title"] == "Pilot", response.text

    allowed = {httpx.URL(url).netloc.decode() for url in (admin_site.url, admin_site.keycloak.url, admin_site.s3_url)}
    assert editor.hosts() <= allowed, f"requests to other hosts: {editor.hosts() - allowed}"
    assert not editor.console_errors, editor.console_errors


async def test_an_invalid_form_shows_the_apis_message_beside_the_field(editor: Session, admin_site: AdminSite) -> None:
    page = editor.page
    await page.goto(f"{admin_site.admin}programs/new")
    await page.get_by_label("Title").fill("Slug trouble")
    await page.get_by_label("Slug").fill("Not A Slug!")
    await page.get_by_role("button", name="Create program").click()
    slug = page.get_by_label("Slug")
    await expect(slug).to_have_attribute("aria-invalid", "true")
    described = await slug.get_attribute("aria-describedby")
    assert described, "the slug's error is not tied to its input"
    message = (await page.locator(f"#{described.split()[-1]}").inner_text()).strip()

    # The same input sent straight to the API: the message shown is the API's own.
    token = admin_site.keycloak.token("eddie")
    async with httpx.AsyncClient(base_url=admin_site.url) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": operation("CreateProgram"),
                "variables": {"input": {"title": "Slug trouble", "slug": "Not A Slug!"}},
            },
            headers={"authorization": f"Bearer {token}"},
        )
    result = response.json()["data"]["createProgram"]
    assert result["__typename"] == "ValidationError", result
    expected = next(f["message"] for f in result["fields"] if f["path"][-1] == "slug")
    assert message == expected
    await expect(page.get_by_label("Title")).to_have_value("Slug trouble")  # nothing typed is lost
    await editor.shot("invalid-slug")


async def test_a_viewer_sees_no_edit_controls(browser: Browser, admin_site: AdminSite, admin_artifacts: Path) -> None:
    token = admin_site.keycloak.token("eddie")
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=admin_site.url, headers=headers) as client:

        async def call(name: str, variables: dict) -> dict:
            response = await client.post("/graphql", json={"query": operation(name), "variables": variables})
            return response.json()["data"]

        program = (await call("CreateProgram", {"input": {"title": "Open to viewers"}}))["createProgram"]["id"]
        await call("PublishProgram", {"id": program})
        episode = (await call("CreateEpisode", {"input": {"programId": program, "title": "Watch me"}}))[
            "createEpisode"
        ]["id"]
        await call("PublishEpisode", {"id": episode})

    session = await open_session(browser, admin_artifacts)
    try:
        await sign_in(session, admin_site, "vera")
        page = session.page
        await expect(page.get_by_test_id("who")).to_contain_text("Vera")
        await expect(page.get_by_role("link", name="Open to viewers")).to_be_visible()
        await expect(page.get_by_role("link", name="New program")).to_have_count(0)
        await expect(page.get_by_role("link", name="Sources")).to_have_count(0)
        await expect(page.get_by_role("link", name="Jobs")).to_have_count(0)
        await page.goto(f"{admin_site.admin}programs/{program}")
        await expect(page.get_by_role("heading", name=re.compile("Open to viewers"))).to_be_visible()
        for name in ("Save changes", "Publish now", "Unpublish", "Delete", "Schedule"):
            await expect(page.get_by_role("button", name=name)).to_have_count(0)
        await session.shot("viewer-program")
        await page.goto(f"{admin_site.admin}episodes/{episode}")
        await expect(page.get_by_role("heading", name=re.compile("Watch me"))).to_be_visible()
        await expect(page.get_by_label("Upload media file")).to_have_count(0)
        for name in ("Save changes", "Publish now", "Delete"):
            await expect(page.get_by_role("button", name=name)).to_have_count(0)
        await session.shot("viewer-episode")
    finally:
        await session.context.close()


async def test_an_interrupted_upload_resumes_with_the_parts_missing(
    editor: Session, admin_site: AdminSite, tmp_path: Path
) -> None:
    page = editor.page
    await _create_program(page, "Long takes")
    await _create_episode(page, "Long takes", "The long one")
    data = padded_mp4(3 * PART - 1024)  # three parts: 5 MiB, 5 MiB, the rest
    path = tmp_path / "long-take.mp4"
    path.write_bytes(data)

    sent: dict[int, int] = {}
    blocked = {"on": True}

    async def parts(route: Route) -> None:
        request = route.request
        match = re.search(r"[?&]partNumber=(\d+)", request.url)
        if request.method != "PUT" or not match:
            await route.continue_()
            return
        number = int(match.group(1))
        if number == 2 and blocked["on"]:
            await route.abort("connectionreset")  # the connection drops while part 2 is on its way
            return
        sent[number] = sent.get(number, 0) + 1
        await route.continue_()

    await page.route(re.compile(re.escape(admin_site.s3_url) + ".*"), parts)
    await page.get_by_label("Upload media file").set_input_files(str(path))
    retry = page.get_by_role("button", name="Retry upload")
    await expect(retry).to_be_visible(timeout=120_000)
    await editor.shot("upload-interrupted")
    blocked["on"] = False
    await retry.click()
    await expect(page.get_by_role("status", name="Processing status")).to_contain_text(
        re.compile("processing|ready"), timeout=READY
    )
    await editor.shot("upload-resumed")
    assert sent.get(1) == 1, f"part 1 was sent again after the interruption: {sent}"
    assert sent.get(2) == 1 and sent.get(3) == 1, sent


async def test_an_admin_signs_in_with_pkce_sees_the_admin_pages_and_signs_out(
    browser: Browser, admin_site: AdminSite, admin_artifacts: Path
) -> None:
    session = await open_session(browser, admin_artifacts)
    try:
        page = session.page
        authorize: list[str] = []
        page.on("request", lambda r: "/protocol/openid-connect/auth" in r.url and authorize.append(r.url))
        await sign_in(session, admin_site, "alice", "programs")
        query = dict(httpx.URL(authorize[0]).params)
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43, query
        assert query["client_id"] == "cms-admin" and query["response_type"] == "code"
        await expect(page.get_by_test_id("who")).to_contain_text("Alice")
        for name in ("Jobs", "Audit", "Search", "Sources"):
            await expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
        await session.shot("admin-signed-in")
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert await page.evaluate("() => Object.keys(sessionStorage).filter(k => k.startsWith('oidc.user'))") == []
        await session.shot("signed-out")
    finally:
        await session.context.close()


async def test_the_session_renews_its_token_silently(editor: Session, admin_site: AdminSite) -> None:
    """Access tokens live 75 s for this client; the app trades its refresh token for a new one before they expire,
    without leaving the page, and keeps working with it."""
    page = editor.page
    renewals: list[str] = []
    page.on(
        "request",
        lambda r: (
            r.url.endswith("/protocol/openid-connect/token")
            and "grant_type=refresh_token" in (r.post_data or "")
            and renewals.append(r.url)
        ),
    )
    await page.goto(f"{admin_site.admin}programs")
    before = await page.evaluate("() => location.href")
    await page.wait_for_function(
        "() => Object.keys(sessionStorage).some(k => k.startsWith('oidc.user'))", timeout=5_000
    )
    first = await page.evaluate(
        "() => JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage).find(k => k.startsWith('oidc.user')))).access_token"
    )
    await page.wait_for_function(
        "first => JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage).find(k => k.startsWith('oidc.user'))))"
        ".access_token !== first",
        arg=first,
        timeout=60_000,
    )
    assert renewals, "the token changed without a refresh-token grant"
    assert await page.evaluate("() => location.href") == before  # no redirect to the provider
    await page.get_by_role("link", name="Episodes").click()
    await expect(page.get_by_role("heading", level=1, name="Episodes")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_count(0)
