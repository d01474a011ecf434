"""Child-process entry for isolated media work (see isolated.py): one JSON task in, JSON lines out."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cms.media.transcode import artwork, documents, images
from cms.media.transcode.errors import TranscodeFailed
from cms.media.transcode.ladder import plan_ladder
from cms.media.transcode.pipeline import transcode_audio, transcode_video

TRANSCODE_SHARE = 0.85  # of the progress bar; artwork takes the rest


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _progress(low: float, high: float) -> Callable[[float], None]:
    return lambda fraction: _emit({"progress": round(low + (high - low) * min(max(fraction, 0.0), 1.0), 4)})


def _artwork(task: dict[str, Any], out: Path, deadline: float) -> dict[str, Any]:
    """Each piece on its own: one that fails is reported, the others still made."""
    common: dict[str, Any] = {"input_format": task["input_format"], "rotation": task["rotation"], "deadline": deadline}
    made: dict[str, Any] = {}
    jobs: dict[str, Callable[[], artwork.PosterResult | artwork.StripResult | artwork.StoryboardResult]] = {
        "poster": lambda: artwork.poster(task["src"], out / "poster.jpg", **common),
        "thumbnails": lambda: artwork.thumbnail_strip(task["src"], out / "thumbnails.jpg", **common),
        "storyboard": lambda: artwork.storyboard(task["src"], out / "storyboard", duration=task["duration"], **common),
    }
    for index, (name, make) in enumerate(jobs.items()):
        try:
            made[name] = dataclasses.asdict(make())
        except artwork.ArtworkFailed as exc:
            made[name] = {"error": exc.reason}
        _progress(TRANSCODE_SHARE, 1.0)((index + 1) / len(jobs))
    return made


def _run(task: dict[str, Any]) -> dict[str, Any]:
    if task["task"] == "document_probe":  # reads only: no output folder
        return {"probe": documents.probe_pdf(task["src"], max_pages=task["max_pages"])}
    out = Path(task["out_dir"])
    deadline = time.monotonic() + float(task["timeout"])
    if task["task"] == "video":
        plan = plan_ladder(task["width"], task["height"], task["frame_rate"], task["rotation"])
        video = transcode_video(
            Path(task["src"]),
            out / "hls",
            plan,
            input_format=task["input_format"],
            video_encoder=task["video_encoder"],
            hw_decode=task["hw_decode"],
            progress=_progress(0.0, TRANSCODE_SHARE),
            deadline=deadline,
        )
        return {"video": dataclasses.asdict(video), **_artwork(task, out, deadline)}
    if task["task"] == "audio":
        audio = transcode_audio(
            Path(task["src"]),
            out / "hls",
            input_format=task["input_format"],
            progress=_progress(0.0, 1.0),
            deadline=deadline,
        )
        return {"audio": dataclasses.asdict(audio)}
    if task["task"] == "image":
        return {"image": dataclasses.asdict(images.responsive_images(task["src"], out / "images"))}
    if task["task"] == "document":
        made = documents.render_document(
            task["src"],
            out,
            task["text_path"],
            max_pages=task["max_pages"],
            max_text_bytes=task["max_text_bytes"],
            deadline=deadline,
            progress=_progress(0.0, 1.0),
        )
        return {"document": dataclasses.asdict(made)}
    raise ValueError(f"unknown task {task['task']!r}")


def main() -> int:
    task = json.loads(sys.stdin.readline())
    try:
        _emit({"result": _run(task)})
    except (TranscodeFailed, images.ImageRejected, artwork.ArtworkFailed, documents.DocumentRejected) as exc:
        _emit({"error": getattr(exc, "reason", None) or str(exc)})
    except MemoryError:
        # The address-space limit refused an allocation Python made (one in C code usually kills the child instead,
        # and the parent names that). Said plainly: the file asked for more than any sane one of its kind needs.
        _emit({"error": "processing needed more memory than allowed; the file may be damaged, or built to do this"})
    except Exception as exc:  # noqa: BLE001 - reported to the parent, traceback to stderr for the logs
        traceback.print_exc()
        _emit({"error": f"processing failed unexpectedly: {type(exc).__name__}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
