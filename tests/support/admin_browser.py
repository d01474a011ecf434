"""Driving the admin app in chromium: sign-in through Keycloak's login page, screenshots, axe-core, requests seen."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, Request, expect

from tests.support.admin_site import AdminSite

AXE_JS = Path(__file__).resolve().parents[1] / "e2e" / "node_modules" / "axe-core" / "axe.min.js"
# Keycloak, dev mode on two busy cores, and the first page of a freshly started app: be patient, not sloppy.
SLOW = 30_000


@dataclass
class Session:
    context: BrowserContext
    page: Page
    shots: Path
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    _count: int = 0

    async def shot(self, name: str) -> Path:
        """A full-page screenshot, numbered in the order taken: 01-signed-in.png, 02-..."""
        self._count += 1
        path = self.shots / f"{self._count:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc for url in self.requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")}


async def open_session(
    browser: Browser, shots: Path, *, width: int = 1280, height: int = 900, dark: bool = False, bypass_csp: bool = False
) -> Session:
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        color_scheme="dark" if dark else "light",
        bypass_csp=bypass_csp,  # axe-core is injected as a script, which the admin's policy rightly refuses
        locale="en-GB",
        timezone_id="Europe/Berlin",
    )
    context.set_default_timeout(SLOW)
    page = await context.new_page()
    session = Session(context, page, shots)
    page.on("request", lambda request: _record(session, request))
    page.on("console", lambda message: message.type == "error" and session.console_errors.append(message.text))
    page.on("pageerror", lambda error: session.console_errors.append(f"pageerror: {error}"))
    return session


def _record(session: Session, request: Request) -> None:
    session.requests.append(request.url)


async def sign_in(session: Session, site: AdminSite, username: str, path: str = "") -> None:
    """The authorization code flow with PKCE as an editor lives it: the app's button, Keycloak's form, back."""
    page = session.page
    await page.goto(site.admin + path)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(re.escape(site.keycloak.url)))
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(site.keycloak.password(username))
    await page.locator("#kc-login").click()
    await page.wait_for_url(re.compile(re.escape(site.admin)))
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.x A/AA rules on the page as it is; the violations of those impacts, with their targets."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE_JS))
    result = await page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v["impact"] in impacts
    ]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)
