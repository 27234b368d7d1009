"""Samples onto the 20-second grid (metrics.spread) and API timestamps (epoch_of)."""

from __future__ import annotations

from datetime import UTC, datetime

from miqspec.metrics.spread import epoch_of, spread


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_manageiq_example_three_minute_samples_give_seven_points() -> None:
    # ManageIQ's Azure spec: samples at 07:20:00.558, 07:21:00.558, 07:22:00.558 give 7
    # points from 07:20:00 to 07:22:00, timestamps truncated to whole seconds
    raw = ["2017-07-20T07:20:00.558Z", "2017-07-20T07:21:00.558Z", "2017-07-20T07:22:00.558Z"]
    samples = [(epoch_of(t), {"v": i}) for i, t in enumerate(raw)]
    points = list(spread(samples, 60))  # type: ignore[arg-type]
    times = [datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S") for t, _ in points]
    assert times == [
        "07:20:00", "07:20:20", "07:20:40", "07:21:00", "07:21:20", "07:21:40", "07:22:00",
    ]  # fmt: skip
    assert [v["v"] for _, v in points] == [0, 0, 0, 1, 1, 1, 2]


def test_a_gap_stays_a_gap_and_five_minute_samples_fill_their_interval() -> None:
    t0 = at("2026-01-01T10:00:00")
    one_minute = [(t0, {"v": 1}), (t0 + 600, {"v": 2}), (t0 + 660, {"v": 3})]
    times = [t - t0 for t, _ in spread(one_minute, 60)]
    assert times == [0, 20, 40, 600, 620, 640, 660]  # nothing between 60 s and 600 s
    five = [(t0, {"v": 1}), (t0 + 300, {"v": 2})]
    assert [t - t0 for t, _ in spread(five, 300)] == [*range(0, 300, 20), 300]


def test_epoch_of_reads_iso_epoch_seconds_and_milliseconds() -> None:
    assert epoch_of("2026-01-01T10:00:00.999Z") == at("2026-01-01T10:00:00")
    assert epoch_of("2026-01-01T11:00:00+01:00") == at("2026-01-01T10:00:00")
    assert epoch_of("2026-01-01T10:00:00") == at("2026-01-01T10:00:00")  # UTC assumed
    assert epoch_of(1767261600.7) == 1767261600
    assert epoch_of(1767261600700) == 1767261600
    for bad in (None, True, "yesterday", float("nan"), {"t": 1}):
        assert epoch_of(bad) is None
