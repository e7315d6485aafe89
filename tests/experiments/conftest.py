"""Shared checks for the experiment tests."""

from __future__ import annotations

import pytest

from mlplab.experiments import get


def _check(result: dict, claim_id: str) -> None:
    assert result["error"] is None, result.get("traceback")
    assert result["id"] == claim_id
    assert result["verdict"] in ("holds", "partly", "fails")
    assert result["rule"] and result["evidence"] and result["claim"] and result["section"]
    assert result["rows"], "the report needs numbers to show"
    # each claim's section ends with a measured line on where the claim breaks
    assert result["breaks"] == get(claim_id).breaks(result["measurements"]) != ""
    assert result["figures"] and all(len(f["png_base64"]) > 1000 for f in result["figures"])
    assert result["settings"] == get(claim_id).settings(result["profile"])
    assert result["seconds"] > 0
    # the verdict is exactly the pre-written rule applied to the stored measurements
    assert tuple(get(claim_id).judge(result["measurements"])) == (
        result["verdict"],
        result["evidence"],
    )


@pytest.fixture
def check_result():
    return _check
