"""deploy/prometheus/alerts.yml: the alert rules the README offers, checked by Prometheus's own
promtool (`make test` installs Debian's prometheus package, which ships it, when it is missing).

`promtool check rules` parses the rules and their expressions; `promtool test rules` runs
alerts.test.yml, which feeds each rule the series two Knock processes would report and says when
it must fire and when not. Every metric a rule names must be one Knock exports (README).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
README = ROOT / "README.md"


def promtool() -> str:
    found = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
    )
    if found is None:
        pytest.fail("promtool is missing (Debian package: prometheus; `make test` installs it)")
    return found


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_alert_rules_pass_promtool_check() -> None:
    checked = run("check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "4 rules found" in checked.stdout


def test_promtool_check_refuses_a_rule_with_a_broken_expression(tmp_path: Path) -> None:
    broken = tmp_path / "alerts.yml"
    broken.write_text(RULES.read_text().replace("== 0", "== ", 1))
    assert run("check", "rules", broken).returncode != 0


def test_each_alert_fires_when_it_should_and_not_before() -> None:
    tested = run("test", "rules", RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_rule_tests_cover_every_alert_firing() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"][0]["alert_rule_test"]
    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    names = {rule["alert"] for rule in rules}
    assert names == {
        "KnockHomeserverDown",
        "KnockJobsWaiting",
        "KnockJoinWaveTripped",
        "KnockNoLeader",
    }
    assert fired == names
    assert quiet == names


def test_the_rules_name_only_metrics_knock_exports() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    named = {name for rule in rules for name in re.findall(r"knock_[a-z_]+", rule["expr"])}
    listed = set(re.findall(r"^\| `(knock_[a-z_]+)` \|", README.read_text(), re.MULTILINE))
    assert named and named <= listed, f"not a metric Knock exports: {sorted(named - listed)}"
