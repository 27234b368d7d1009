"""The refresh summary and JSON count what a refresh archived and the records that gave no
row (issue 16, points 11 and 24); the summary's table shows those columns only when some
collection has any."""

from __future__ import annotations

from miqspec.api import RefreshResult
from miqspec.cli.report import plain, refresh_doc, refresh_json
from miqspec.persist.report import CollectionReport, PersistReport


def result(**disks: int) -> RefreshResult:
    report = PersistReport(
        collections={"disks": CollectionReport(**disks), "vms": CollectionReport(created=2)}
    )
    return RefreshResult(provider="p", ok=True, report=report)


def test_drops_and_archives_are_counted():
    done = result(created=3, dropped=5, archived=1)
    counts = refresh_json(done)["collections"]
    assert counts["disks"]["dropped"] == 5 and counts["disks"]["archived"] == 1
    assert counts["vms"]["dropped"] == 0
    header = next(line for line in plain(refresh_doc(done)).splitlines() if "collection" in line)
    assert header.split()[-2:] == ["archived", "dropped"]


def test_the_columns_show_only_when_needed():
    header = next(
        line for line in plain(refresh_doc(result(created=1))).splitlines() if "collection" in line
    )
    assert header.split()[-1] == "unchanged"
    assert refresh_json(result())["collections"]["disks"]["dropped"] == 0
