"""The ledger report: files, content, profile comparison, and the page in headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlplab.cli import main

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("ledger")
    cache, out = root / "cache", root / "out"
    # a quick-profile result for C07 in the cache: the tiny report must show it beside its own
    assert (
        main(
            [
                "reproduce",
                "--profile",
                "quick",
                "--only",
                "C07",
                "--cache",
                str(cache),
                "--out",
                str(root / "quick"),
                "--json",
            ]
        )
        == 0
    )
    code = main(
        [
            "reproduce",
            "--profile",
            "tiny",
            "--only",
            "C05,C06,C07",
            "--cache",
            str(cache),
            "--out",
            str(out),
            "--json",
            "--jobs",
            "1",
        ]
    )
    assert code == 0
    return out


def test_report_files(report):
    for name in ("index.html", "claims.json", "SUMMARY.md"):
        assert (report / name).is_file()
    data = json.loads((report / "claims.json").read_text())
    assert data["profile"] == "tiny" and [c["id"] for c in data["claims"]] == ["C05", "C06", "C07"]
    for c in data["claims"]:
        assert c["verdict"] in ("holds", "partly", "fails") and c["rule"] and c["measurements"]
        for f in c["figures"]:
            assert (report / f["file"]).stat().st_size > 1000
    c07 = data["claims"][2]
    assert c07["other_profile"]["profile"] == "quick"
    md = (report / "SUMMARY.md").read_text()
    assert "| [C07](index.html#C07)" in md and "quick: partly holds" in md
    # every claim's section ends with the measured "what would change the verdict" line
    page = (report / "index.html").read_text()
    assert page.count("What would change the verdict.") == 3
    assert md.count("What would change the verdict:") == 3
    assert all(c["breaks"] and c["cells"] for c in data["claims"])


def test_dry_run_prints_tasks_and_cpu_estimate(capsys, tmp_path, monkeypatch):
    from mlplab.experiments import runner

    monkeypatch.setitem(runner.MEASURED_FULL_CPU, "C09", 300.0)
    code = main(
        ["reproduce", "--profile", "paper", "--only", "C09,C07", "--dry-run", "--json"]
        + ["--cache", str(tmp_path)]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["profile"] == "paper" and out["seeds"] == [0, 1, 2, 3, 4]
    assert out["tasks"] == 2 * 3 * 4 * 5 + 1
    assert out["estimated_cpu_seconds"] > 300.0
    assert not (tmp_path / "C09_paper").exists()  # nothing ran
    code = main(["reproduce", "--profile", "paper", "--only", "C09", "--dry-run"])
    assert code == 0 and "estimated CPU time" in capsys.readouterr().out


def test_cli_json_shape(report, capsys, tmp_path):
    code = main(
        [
            "reproduce",
            "--profile",
            "tiny",
            "--only",
            "C07",
            "--cache",
            str(report.parent / "cache"),
            "--out",
            str(tmp_path),
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"profile", "report", "claims"}
    assert set(out["claims"][0]) == {
        "id",
        "verdict",
        "rule",
        "evidence",
        "breaks",
        "seconds",
        "cpu_seconds",
        "cells",
    }
    assert (
        main(
            [
                "claims",
                "--json",
                "--cache",
                str(report.parent / "cache"),
                "--out-root",
                str(tmp_path),
            ]
        )
        == 0
    )
    listed = json.loads(capsys.readouterr().out)["claims"]
    c07 = next(c for c in listed if c["id"] == "C07")
    assert c07["verdicts"]["tiny"]["verdict"] == "partly"
    assert c07["verdicts"]["quick"]["stale"] is False


def test_cli_rejects_bad_input(capsys):
    assert main(["reproduce", "--only", "C77"]) == 2
    assert "unknown claim" in capsys.readouterr().err
    assert main(["reproduce", "--seeds", "0"]) == 2


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
def test_report_renders_in_chromium(report):
    from playwright.sync_api import sync_playwright

    data = json.loads((report / "claims.json").read_text())
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto((report / "index.html").as_uri())
            page.wait_for_load_state("load")
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            n_figs = sum(len(c["figures"]) for c in data["claims"])
            assert len(widths) == n_figs and all(w > 0 for w in widths)
            for c in data["claims"]:
                assert page.locator(f"section#{c['id']}").count() == 1
                assert page.locator(f"a[href='#{c['id']}']").count() == 1
            assert page.locator(".badge.partly").count() >= 1
            assert all(u.startswith(("file:", "data:")) for u in requests)  # no network
            page.screenshot(path=str(ARTIFACTS / "ledger-report.png"), full_page=True)
        finally:
            browser.close()
    shutil.copy(report / "index.html", ARTIFACTS / "ledger-report.html")
