"""plan_ladder and ladder_fingerprint: pure decisions, no media needed."""

from __future__ import annotations

import dataclasses

import pytest

from cms.media.transcode.ladder import (
    DEFAULT_LADDER,
    DEFAULT_SETTINGS,
    Rung,
    RungPlan,
    display_size,
    ladder_fingerprint,
    plan_ladder,
)


def sizes(plans: list[RungPlan]) -> list[tuple[str, int, int]]:
    return [(plan.name, plan.width, plan.height) for plan in plans]


def test_full_hd_gets_the_whole_apple_ladder() -> None:
    plans = plan_ladder(1920, 1080, 30, 0)
    assert sizes(plans) == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("540p", 960, 540),
        ("360p", 640, 360),
        ("234p", 416, 234),
    ]
    assert [plan.bitrate for plan in plans] == [6_000_000, 3_000_000, 2_000_000, 730_000, 145_000]
    assert all(plan.maxrate == plan.bitrate and plan.bufsize == 2 * plan.bitrate for plan in plans)
    assert all(plan.frame_rate == 30 for plan in plans)


def test_portrait_rung_height_is_the_short_side() -> None:
    assert sizes(plan_ladder(1080, 1920, 30, 0))[0] == ("1080p", 1080, 1920)
    assert sizes(plan_ladder(1080, 1920, 30, 0))[-1] == ("234p", 234, 416)


@pytest.mark.parametrize("rotation", [90, 270, -90])
def test_quarter_turn_plans_the_display_orientation(rotation: int) -> None:
    assert display_size(1920, 1080, rotation) == (1080, 1920)
    assert plan_ladder(1920, 1080, 30, rotation) == plan_ladder(1080, 1920, 30, 0)


def test_half_turn_keeps_the_orientation() -> None:
    assert plan_ladder(1920, 1080, 30, 180) == plan_ladder(1920, 1080, 30, 0)


@pytest.mark.parametrize("fps, factor", [(24, 1.0), (29.97, 1.0), (30, 1.0), (50, 1.5), (59.94, 1.5), (60, 1.5)])
def test_high_frame_rates_get_more_bits(fps: float, factor: float) -> None:
    plans = plan_ladder(1280, 720, fps, 0)
    assert [plan.bitrate for plan in plans] == [int(rate * factor) for rate in (3_000_000, 2_000_000, 730_000, 145_000)]
    assert all(plan.frame_rate == fps for plan in plans)  # no frame rate conversion


def test_odd_source_never_upscaled_and_even() -> None:
    plans = plan_ladder(853, 481, 30, 0)
    assert sizes(plans) == [("360p", 638, 360), ("234p", 414, 234)]


def test_tiny_source_keeps_one_rung_at_its_own_size() -> None:
    assert sizes(plan_ladder(320, 180, 25, 0)) == [("234p", 320, 180)]
    assert sizes(plan_ladder(99, 57, 25, 0)) == [("234p", 98, 56)]
    assert sizes(plan_ladder(1, 1, 25, 0)) == [("234p", 2, 2)]


def test_wide_film_keeps_full_hd_width() -> None:
    plans = plan_ladder(1920, 800, 24, 0)
    assert sizes(plans)[:2] == [("1080p", 1920, 800), ("720p", 1280, 534)]


def test_slightly_short_source_keeps_its_rung_without_upscaling() -> None:
    assert sizes(plan_ladder(1920, 1072, 30, 0))[0] == ("1080p", 1920, 1072)
    assert sizes(plan_ladder(1600, 900, 30, 0))[0] == ("720p", 1280, 720)


@pytest.mark.parametrize(
    "width, height",
    [
        (3840, 2160),
        (1920, 1080),
        (1440, 1080),
        (1080, 1080),
        (720, 576),
        (1080, 2400),
        (853, 481),
        (641, 359),
        (300, 500),
        (4000, 1000),
    ],
)
def test_invariants(width: int, height: int) -> None:
    plans = plan_ladder(width, height, 30, 0)
    assert plans, "at least the lowest rung"
    assert plans[-1].name == "234p"
    for plan in plans:
        assert plan.width % 2 == 0 and plan.height % 2 == 0
        assert plan.width <= max(2, width) and plan.height <= max(2, height), "never upscaled"
        assert abs(plan.width / plan.height - width / height) < 0.02 * width / height + 2 / plan.height
    heights = [min(plan.width, plan.height) for plan in plans]
    assert heights == sorted(heights, reverse=True)


def test_custom_ladder_and_bad_input() -> None:
    ladder = [Rung("low", 240, 300_000), Rung("high", 480, 1_000_000)]
    assert sizes(plan_ladder(854, 480, 30, 0, ladder)) == [("high", 854, 480), ("low", 426, 240)]
    with pytest.raises(ValueError):
        plan_ladder(0, 1080, 30, 0)
    with pytest.raises(ValueError):
        plan_ladder(1920, 1080, 0, 0)
    with pytest.raises(ValueError):
        plan_ladder(1920, 1080, 30, 0, [])


def test_fingerprint_is_short_stable_and_order_free() -> None:
    first = ladder_fingerprint(DEFAULT_LADDER, DEFAULT_SETTINGS)
    assert first == ladder_fingerprint(tuple(reversed(DEFAULT_LADDER)), dataclasses.replace(DEFAULT_SETTINGS))
    assert len(first) == 16 and int(first, 16) >= 0


def test_fingerprint_changes_with_ladder_or_settings() -> None:
    base = ladder_fingerprint(DEFAULT_LADDER, DEFAULT_SETTINGS)
    assert ladder_fingerprint(DEFAULT_LADDER[:-1], DEFAULT_SETTINGS) != base
    assert ladder_fingerprint(DEFAULT_LADDER, dataclasses.replace(DEFAULT_SETTINGS, crf=23)) != base
    assert ladder_fingerprint(DEFAULT_LADDER, dataclasses.replace(DEFAULT_SETTINGS, video_encoder="h264_nvenc")) != base
    changed = (Rung("1080p", 1080, 7_800_000), *DEFAULT_LADDER[1:])
    assert ladder_fingerprint(changed, DEFAULT_SETTINGS) != base
