"""The admin app's quality bar in a real browser: axe-core finds no serious or critical issue on any page (light at
desktop width, dark at 375 px), nothing scrolls sideways on a phone, Persian and Arabic content renders right to
left, and an editor can work by keyboard alone. Screenshots in tests/artifacts/e2e/admin/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.admin_browser import Session, axe_violations, describe, open_session, sign_in
from tests.support.admin_site import AdminSite
from tests.support.api import operation

PERSIAN_TITLE = "برنامه‌ی شبانه"
ARABIC_DESCRIPTION = "نشرة الأخبار المسائية"


@pytest.fixture(scope="module")
async def content(admin_site: AdminSite) -> dict[str, str]:
    """A program with Persian and Arabic fields and an episode, made through the API as an editor."""
    token = admin_site.keycloak.token("eddie")
    async with httpx.AsyncClient(base_url=admin_site.url, headers={"authorization": f"Bearer {token}"}) as client:

        async def call(name: str, variables: dict) -> dict:
            response = await client.post("/graphql", json={"query": operation(name), "variables": variables})
            body = response.json()
            assert not body.get("errors"), body
            return body["data"]

        program = (
            await call(
                "CreateProgram",
                {"input": {"title": PERSIAN_TITLE, "description": ARABIC_DESCRIPTION, "language": "fa"}},
            )
        )["createProgram"]["id"]
        episode = (await call("CreateEpisode", {"input": {"programId": program, "title": "قسمت اول"}}))[
            "createEpisode"
        ]["id"]
    return {"program": program, "episode": episode}


def _pages(content: dict[str, str]) -> list[tuple[str, str]]:
    """(name, path under /admin/) of every page an admin can open."""
    return [
        ("programs", "programs"),
        ("program-new", "programs/new"),
        ("program-edit", f"programs/{content['program']}"),
        ("episodes", "episodes"),
        ("episode-new", "episodes/new"),
        ("episode-edit", f"episodes/{content['episode']}"),
        ("review", f"episodes/{content['episode']}/review"),
        ("sources", "sources"),
        ("source-new", "sources/new"),
        ("jobs", "jobs"),
        ("audit", "audit"),
        ("search-status", "search-status"),
    ]


async def _settled(page: Page) -> None:
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await page.wait_for_load_state("networkidle")
    await expect(page.get_by_role("status").filter(has_text=re.compile(r"^Loading…$"))).to_have_count(0)


@pytest.fixture
async def admin_desktop(browser: Browser, admin_site: AdminSite, admin_artifacts: Path) -> AsyncIterator[Session]:
    session = await open_session(browser, admin_artifacts, bypass_csp=True)
    await sign_in(session, admin_site, "alice")
    yield session
    await session.context.close()


@pytest.fixture
async def admin_phone_dark(browser: Browser, admin_site: AdminSite, admin_artifacts: Path) -> AsyncIterator[Session]:
    session = await open_session(browser, admin_artifacts, width=375, height=812, dark=True, bypass_csp=True)
    await sign_in(session, admin_site, "alice")
    yield session
    await session.context.close()


async def test_axe_finds_no_serious_issue_on_any_page_light_desktop(
    admin_desktop: Session, admin_site: AdminSite, content: dict[str, str]
) -> None:
    found: dict[str, object] = {}
    for name, path in _pages(content):
        await admin_desktop.page.goto(admin_site.admin + path)
        await _settled(admin_desktop.page)
        await admin_desktop.shot(f"axe-light-{name}")
        if violations := await axe_violations(admin_desktop.page):
            found[name] = violations
    assert not found, describe([{"page": k, "violations": v} for k, v in found.items()])


async def test_axe_finds_no_serious_issue_dark_at_375px_and_nothing_scrolls_sideways(
    admin_phone_dark: Session, admin_site: AdminSite, content: dict[str, str]
) -> None:
    page = admin_phone_dark.page
    assert await page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
    found: dict[str, object] = {}
    wide: dict[str, int] = {}
    for name, path in _pages(content):
        await page.goto(admin_site.admin + path)
        await _settled(page)
        await admin_phone_dark.shot(f"axe-dark-375-{name}")
        if violations := await axe_violations(page):
            found[name] = violations
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        if width > 375:
            wide[name] = width
    background = await page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)", "dark mode left the page white"
    assert not found, describe([{"page": k, "violations": v} for k, v in found.items()])
    assert not wide, f"pages wider than 375 px: {wide}"


async def test_persian_and_arabic_fields_render_right_to_left(
    admin_desktop: Session, admin_site: AdminSite, content: dict[str, str]
) -> None:
    page = admin_desktop.page
    await page.goto(f"{admin_site.admin}programs/{content['program']}")
    await _settled(page)
    title = page.get_by_label("Title")
    await expect(title).to_have_value(PERSIAN_TITLE)
    assert await title.evaluate("element => element.matches(':dir(rtl)')")
    description = page.get_by_label("Description")
    assert await description.evaluate("element => element.matches(':dir(rtl)')")
    await admin_desktop.shot("rtl-program")
    await page.goto(f"{admin_site.admin}programs")
    link = page.get_by_role("link", name=PERSIAN_TITLE)
    assert await link.evaluate("element => element.matches(':dir(rtl)')")


async def _tab_to(page: Page, check: str, limit: int = 60) -> None:
    """Press Tab until `check` (a JS expression on document.activeElement, `el`) holds."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"() => {{ const el = document.activeElement; return Boolean({check}); }}"):
            return
    raise AssertionError(f"never reached by Tab: {check}")


async def test_an_editor_creates_a_program_by_keyboard_alone(
    browser: Browser, admin_site: AdminSite, admin_artifacts: Path
) -> None:
    session = await open_session(browser, admin_artifacts)
    try:
        await sign_in(session, admin_site, "eddie")
        page = session.page
        await page.goto(f"{admin_site.admin}programs")
        await _settled(page)
        await _tab_to(page, "el.textContent.trim() === 'New program'")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/programs/new$"))
        await _tab_to(page, "el.labels && el.labels[0] && el.labels[0].textContent.trim().startsWith('Title')")
        await page.keyboard.type("Typed, not clicked")
        await _tab_to(page, "el.tagName === 'BUTTON' && el.textContent.trim() === 'Create program'")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/admin/programs/(?!new)[^/]+$"))
        await expect(page.get_by_label("Title")).to_have_value("Typed, not clicked")
        await session.shot("keyboard-created")
    finally:
        await session.context.close()
