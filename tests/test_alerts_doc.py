"""docs/alerts.md is current and names a runbook section at every runbook_url the rules carry."""

from __future__ import annotations

import re

from sre_constructs.alerts.docs_page import documented_rule_sets, render_alerts_page
from sre_constructs.kernel.alerts import runbook_url

from .conftest import REPO


def test_alerts_page_is_current() -> None:
    page = (REPO / "docs" / "alerts.md").read_text(encoding="utf-8")
    assert page == render_alerts_page(), "docs/alerts.md is stale: run `python -m sre_constructs.docs`"


def test_every_runbook_url_names_a_section_with_commands() -> None:
    page = render_alerts_page()
    anchors = {heading.lower(): heading for heading in re.findall(r"^### (\S+)$", page, re.MULTILINE)}
    for rule_set in documented_rule_sets():
        for rule in rule_set.rules("https://docs.example/alerts.md"):
            if "alert" not in rule:
                continue
            url = rule["annotations"]["runbook_url"]
            assert url == runbook_url("https://docs.example/alerts.md", rule["alert"])
            assert anchors.get(url.rsplit("#", 1)[1]) == rule["alert"], url
            section = page.split(f"### {rule['alert']}\n", 1)[1].split("\n### ", 1)[0]
            assert "**Confirm.**" in section and "**Fix.**" in section and "```sh\n" in section
            assert "${" not in section, f"{rule['alert']}: a placeholder left unexpanded"
