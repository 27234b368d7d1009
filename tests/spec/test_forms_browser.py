"""``miqspec form`` output in the real renderer: data-driven-forms with its Carbon mapper (as
ManageIQ's UI renders a provider form), bundled with esbuild and run in headless Chromium.

For each shipped spec the harness (``forms_browser/harness.jsx``) renders the form, submits it
empty and reports, per select, the option it shows and the value the form holds. What a user
sees must be what is submitted: a select never shows a choice its value does not hold (the
Carbon select shows its first option while an unset value stays undefined).

Needs ``chromium`` (apt) and the harness's npm packages: ``npm install`` in
``tests/spec/forms_browser`` (or ``MIQSPEC_FORMS_NODE_MODULES`` naming a node_modules);
skipped without them.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from miqspec.spec.forms import params_for_create
from miqspec.spec.load import load_spec

HERE = Path(__file__).parent / "forms_browser"
REPO = Path(__file__).resolve().parents[2]
SHIPPED = ["awx", "nsxt", "azure", "awesome_cloud"]
REPORT = re.compile(r'<pre id="report">(.*?)</pre>', re.S)


def _node_modules() -> Path | None:
    found = Path(os.environ.get("MIQSPEC_FORMS_NODE_MODULES") or HERE / "node_modules")
    return found if (found / ".bin" / "esbuild").exists() else None


def _chromium() -> str | None:
    return next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    modules, browser = _node_modules(), _chromium()
    if modules is None or browser is None:
        pytest.skip("needs chromium and `npm install` in tests/spec/forms_browser")
    out = tmp_path_factory.mktemp("forms") / "bundle.js"
    subprocess.run(
        [str(modules / ".bin" / "esbuild"), str(HERE / "harness.jsx"), "--bundle",
         f"--outfile={out}", "--main-fields=module,main", "--loader:.js=jsx",
         "--define:process.env.NODE_ENV=\"production\"", "--log-level=error"],
        check=True, timeout=300, env={**os.environ, "NODE_PATH": str(modules)},
    )  # fmt: skip
    return out


def render(bundle: Path, form: dict[str, Any]) -> dict[str, Any]:
    page = bundle.parent / "page.html"
    page.write_text(
        '<!doctype html><html><head><meta charset="utf-8"></head><body><div id="root"></div>'
        f'<pre id="report"></pre><script>window.MIQ_FORM = {json.dumps(form)};</script>'
        f'<script src="{bundle.name}"></script></body></html>',
        encoding="utf-8",
    )
    browser = _chromium()
    assert browser is not None
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    found = REPORT.search(done.stdout)
    assert found and found.group(1), f"no report from the renderer: {done.stderr[-500:]}"
    report: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    assert "renderError" not in report, report
    return report


def mismatches(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Selects that show a choice their value does not hold."""
    return [
        s
        for s in report["selects"]
        if s["shown"] != ("" if s["value"] is None else str(s["value"]))
    ]


def form_of(name: str) -> dict[str, Any]:
    return params_for_create(load_spec(str(REPO / "provider_specs" / f"{name}.yaml")))


@pytest.mark.parametrize("name", SHIPPED)
def test_each_select_shows_what_the_form_holds(bundle: Path, name: str) -> None:
    report = render(bundle, form_of(name))
    assert report["selects"], "the form has a select"
    assert mismatches(report) == []
    if name == "awx":  # dataType integer: the value is the number, and it is set
        (ssl,) = report["selects"]
        assert ssl["value"] == 1 and ssl["error"] is None
    else:  # the required select starts empty and says so on submit
        assert all(s["value"] is None and s["error"] for s in report["selects"])


def test_the_harness_sees_a_select_showing_a_value_it_does_not_hold(bundle: Path) -> None:
    """Without its empty choice, nsxt's security protocol shows its first option while the
    value stays unset (what the issue reported): the harness must catch it."""
    form = form_of("nsxt")
    text = json.dumps(form).replace('{"label": "<Choose>", "value": ""}, ', "")
    shown = mismatches(render(bundle, json.loads(text)))
    assert [(s["name"], s["shown"]) for s in shown] == [
        ("endpoints.default.security_protocol", "ssl-no-validation")
    ]
