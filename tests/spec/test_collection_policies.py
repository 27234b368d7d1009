"""A mapping's ``reconnect: false`` reaches the spec's catalogue (issue 16, point 8)."""

from __future__ import annotations

from miqspec.spec.load import load_spec

from ..conftest import AWESOME


def test_reconnect_false_reaches_the_catalogue(tmp_path):
    text = AWESOME.read_text().replace(
        "  vms:\n    from: get_instances\n",
        "  vms:\n    reconnect: false\n    from: get_instances\n",
    )
    path = tmp_path / "awesome_no_reconnect.yaml"
    path.write_text(text)
    spec = load_spec(str(path))
    assert spec.catalogue.collections["vms"].reconnect is False
    assert spec.catalogue.collections["miq_templates"].reconnect is True
    assert load_spec(str(AWESOME)).catalogue.collections["vms"].reconnect is True
