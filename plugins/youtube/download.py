"""A video's file: yt-dlp finds it, our safe client downloads it.

yt-dlp runs as a library with the YouTube extractor only (`allowed_extractors`), and only ever gets a watch URL we
build from a checked 11-character video id, so its own requests (the watch page, the player, YouTube's API) go to
the hosts the extractor itself names. It never downloads: `extract_info(download=False)` resolves one progressive
format (picture and sound in one file, mp4 up to 1080p first, else the best such file: no merge, so no ffmpeg and
no postprocessor runs), and that format's URL is fetched with `SafeClient.download`, which checks every address and
redirect and caps size and time like any other ingest fetch. `check_formats` stays off, because yt-dlp would probe
format URLs itself, past those checks.

Also: yt-dlp plugins are off (`plugin_dirs`: none; they would be code from the user's folders), no cookies,
no config files (the library reads none; only its command line does), no remote JavaScript components: YouTube's
challenges are solved by yt-dlp-ejs, installed, on the `deno` binary from the `deno` PyPI package. Videos longer
than the duration cap, live streams and premieres are refused before any byte is fetched, and so are files that
announce more than `CMS_INGEST_MAX_BYTES`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yt_dlp  # type: ignore[import-untyped]
import yt_dlp.globals  # type: ignore[import-untyped]
from yt_dlp.utils import DownloadError, ExtractorError  # type: ignore[import-untyped]

from cms.core.errors import TooLarge
from cms.core.settings import Settings
from cms.ingest.http import RefusedURL, SafeClient
from jobs.store.service import PermanentFailure

log = logging.getLogger("cms.ingest.youtube")

EXTRACTORS = ("youtube",)  # single videos only: we never hand yt-dlp a channel or playlist address
_SINGLE_FILE = "[protocol^=http][protocol!*=dash]"  # one plain http(s) file: no HLS, no DASH fragments
FORMAT = "/".join(f"b{extra}{_SINGLE_FILE}" for extra in ("[ext=mp4][height<=?1080]", "[height<=?1080]", ""))
_DROPPED_HEADERS = frozenset({"cookie", "authorization", "host", "content-length", "connection"})
_EXT = re.compile(r"[a-z0-9]{1,5}")


@dataclass(frozen=True, slots=True)
class Format:
    """The format yt-dlp chose: where the file is and how to ask for it."""

    url: str
    ext: str
    headers: dict[str, str]
    size: int | None  # as YouTube announces it (exactly, or approximately)


class Downloader:
    def __init__(
        self,
        settings: Settings,
        *,
        watch_url: str,
        max_duration_seconds: int,
        extractors: Sequence[type[Any]] | None = None,
    ) -> None:
        """`extractors`: yt-dlp InfoExtractor classes to use instead of YouTube's (tests register a loopback one)."""
        self.settings = settings
        self.watch_url = watch_url
        self.max_duration_seconds = max_duration_seconds
        self.extractors = tuple(extractors) if extractors is not None else None

    async def fetch(self, video_id: str, dest: Path, *, max_duration_seconds: int | None = None) -> Path:
        """Download the video's file into `dest`; PermanentFailure when it cannot be had (retrying will not help)."""
        cap = min(self.max_duration_seconds, max_duration_seconds or self.max_duration_seconds)
        max_bytes = self.settings.ingest_max_bytes
        url = self.watch_url.replace("{id}", video_id)
        gate = _Gate(cap)
        chosen = await asyncio.to_thread(self._resolve, video_id, url, self._params(dest, gate, max_bytes), gate)
        if chosen.size is not None and chosen.size > max_bytes:
            raise PermanentFailure(
                f"video {video_id} is too large: its file is {chosen.size} bytes, over the limit of {max_bytes} "
                "(CMS_INGEST_MAX_BYTES)"
            )
        try:
            async with SafeClient.from_settings(self.settings) as client:
                downloaded = await client.download(
                    chosen.url, dest / f"{video_id}.{chosen.ext}", headers=chosen.headers, max_bytes=max_bytes
                )
        except RefusedURL as exc:  # the same address would be refused again
            raise PermanentFailure(f"video {video_id}: refused to fetch {exc.url}: {exc.reason}") from exc
        except TooLarge as exc:
            raise PermanentFailure(f"video {video_id}: {exc.message}") from exc
        return downloaded.path

    def _params(self, dest: Path, gate: Callable[..., str | None], max_bytes: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "format": FORMAT,
            "noplaylist": True,
            "skip_download": True,
            "check_formats": False,
            "postprocessors": [],
            "match_filter": gate,
            "max_filesize": max_bytes,  # yt-dlp's own downloader never runs; kept so it could not exceed the cap
            "paths": {"home": str(dest), "temp": str(dest)},
            "outtmpl": {"default": "%(id)s.%(ext)s"},
            "cachedir": str(Path(self.settings.data_dir) / "cache" / "yt-dlp"),
            "cookiefile": None,
            "cookiesfrombrowser": None,
            "js_runtimes": _js_runtimes(),
            "remote_components": [],  # never fetch challenge solvers at run time: yt-dlp-ejs is installed
            "socket_timeout": self.settings.ingest_timeout_seconds,
            "logger": _Log(),
            "quiet": True,
            "noprogress": True,
            "color": "no_color",
        }
        if self.extractors is None:
            params["allowed_extractors"] = list(EXTRACTORS)
        return params

    def _resolve(self, video_id: str, url: str, params: dict[str, Any], gate: _Gate) -> Format:
        """In a worker thread: yt-dlp's extraction is blocking I/O."""
        _refuse_plugins()
        try:
            with yt_dlp.YoutubeDL(params, auto_init=self.extractors is None) as ydl:
                for extractor in self.extractors or ():
                    ydl.add_info_extractor(extractor())
                info = ydl.sanitize_info(ydl.extract_info(url, download=False))
                if not isinstance(info, Mapping):
                    raise PermanentFailure(f"video {video_id}: yt-dlp found nothing to download")
        except DownloadError as exc:
            cause = exc.exc_info[1] if exc.exc_info else None
            message = _plain(str(exc))
            if cause is None or (isinstance(cause, ExtractorError) and cause.expected):
                raise PermanentFailure(f"video {video_id} cannot be downloaded from YouTube: {message}") from None
            raise RuntimeError(f"video {video_id}: yt-dlp failed: {message}") from None  # retried: network trouble
        if gate.refused is not None:
            raise PermanentFailure(f"video {video_id}: {gate.refused}")
        return _chosen(video_id, info)


def _chosen(video_id: str, info: Mapping[str, Any]) -> Format:
    url, protocol = info.get("url"), info.get("protocol")
    if info.get("requested_formats") or not isinstance(url, str) or protocol not in ("http", "https"):
        raise PermanentFailure(
            f"video {video_id}: YouTube offers no single file with both picture and sound for it "
            "(only separate streams, which would need merging)"
        )
    ext = str(info.get("ext") or "")
    headers = info.get("http_headers")
    size = info.get("filesize") or info.get("filesize_approx")
    return Format(
        url=url,
        ext=ext if _EXT.fullmatch(ext) else "mp4",
        headers={
            str(name): str(value)
            for name, value in (headers.items() if isinstance(headers, Mapping) else ())
            if isinstance(value, str) and str(name).lower() not in _DROPPED_HEADERS
        },
        size=int(size) if isinstance(size, int | float) and size > 0 else None,
    )


class _Gate:
    """yt-dlp's match_filter: refuses what cannot come in, before any format is chosen (live streams, premieres,
    long videos). yt-dlp then skips the video quietly, so the reason is kept here for our error."""

    def __init__(self, max_duration: int) -> None:
        self.max_duration = max_duration
        self.refused: str | None = None

    def __call__(self, info: Mapping[str, Any], *, incomplete: bool = False) -> str | None:
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming", "post_live"):
            self.refused = "it is a live stream or an upcoming premiere; it can come in once it has ended"
        duration = info.get("duration")
        if isinstance(duration, int | float) and duration > self.max_duration:
            self.refused = (
                f"it is {_clock(duration)} long, over the limit of {_clock(self.max_duration)} "
                "(maxDurationMinutes, or the source's own limit)"
            )
        return self.refused


def _js_runtimes() -> dict[str, dict[str, str]]:
    """deno from the `deno` wheel; without it, yt-dlp looks for one on PATH (YouTube may then offer fewer formats)."""
    try:
        from deno import find_deno_bin  # type: ignore[import-untyped]

        return {"deno": {"path": str(find_deno_bin())}}
    except (ImportError, FileNotFoundError):
        log.warning("the deno package's binary is missing: yt-dlp looks for deno on PATH")
        return {"deno": {}}


def _refuse_plugins() -> None:
    """yt-dlp loads plugins (extractors that may override YouTube's) from sys.path and the user's folders on first
    use, process-wide: turn that off before it happens, and refuse to run if something loaded some already."""
    yt_dlp.globals.plugin_dirs.value = []
    if yt_dlp.globals.plugin_ies.value or yt_dlp.globals.plugin_ies_overrides.value:
        raise RuntimeError("yt-dlp plugins are loaded in this process; the youtube source refuses to run with them")


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _plain(message: str) -> str:
    return message.removeprefix("ERROR: ").strip()[:500]


class _Log:
    """yt-dlp's logger interface, onto ours: its chatter at debug level."""

    def debug(self, message: str) -> None:
        log.debug("%s", message)

    def info(self, message: str) -> None:
        log.debug("%s", message)

    def warning(self, message: str) -> None:
        log.warning("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        log.info("yt-dlp: %s", message)  # raised as DownloadError just after, and reported there
