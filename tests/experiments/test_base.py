"""The experiment interface: stats, verdict scoring, registration checks, the registry."""

from __future__ import annotations

import math

import pytest

from mlplab.errors import ConfigError
from mlplab.experiments import claim_ids, get, parse_only
from mlplab.experiments.base import (
    PROFILES,
    VERDICTS,
    Experiment,
    Judgement,
    default_rows,
    format_stat,
    get_profile,
    register,
    score_verdict,
    stat,
)


def test_stat_summarises_per_seed_values():
    s = stat([1.0, 2.0, 3.0])
    assert s["per_seed"] == [1.0, 2.0, 3.0]
    assert s["mean"] == 2.0 and s["min"] == 1.0 and s["max"] == 3.0 and s["n"] == 3
    assert math.isclose(s["std"], 1.0)
    assert stat([5.0])["std"] == 0.0


def test_stat_keeps_nonfinite_runs_visible():
    s = stat([1.0, float("nan"), float("inf")])
    assert s["per_seed"] == [1.0, None, None] and s["nonfinite"] == 2 and s["mean"] == 1.0
    empty = stat([float("nan")])
    assert empty["mean"] is None and "no finite value" in format_stat(empty)


def test_score_verdict():
    assert score_verdict(4, 4) == "holds"
    assert score_verdict(3, 4) == "partly"
    assert score_verdict(1, 4) == "fails"
    assert score_verdict(2, 4) == "partly"
    assert score_verdict(1, 4, fails_at_most=0) == "partly"
    assert score_verdict(0, 3) == "fails"
    with pytest.raises(ConfigError):
        score_verdict(0, 0)


def test_profiles_and_seeds():
    assert set(PROFILES) == {"tiny", "quick", "full", "paper"}
    assert get_profile("quick").seeds() == [0, 1]
    assert get_profile("full").seeds(5) == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="profile must be one of"):
        get_profile("huge")


def test_register_rejects_incomplete_declarations():
    class NoId(Experiment):
        title = claim = section = measures = rule = "x"
        profiles = {p: {} for p in PROFILES}

        def measure(self, settings, seeds, rng):
            return {}

        def judge(self, m):
            return Judgement("holds", "")

    with pytest.raises(ValueError, match="id must look like"):
        register(NoId)

    class NoProfiles(NoId):
        id = "C99"
        profiles = {"quick": {}}

    with pytest.raises(ValueError, match="no settings for profiles"):
        register(NoProfiles)


def test_registry_lookup_and_only_parsing():
    ids = claim_ids()
    assert {"C05", "C06", "C07"} <= set(ids)
    assert ids == sorted(ids)
    assert get("c7").id == "C07" and get("C7") is get("C07")
    assert parse_only("C07, c5") == ["C05", "C07"]
    assert parse_only(None) == ids
    with pytest.raises(ConfigError, match="unknown claim"):
        parse_only("C05,C77")


def test_every_registered_experiment_is_complete():
    for cid in claim_ids():
        exp = get(cid)
        d = exp.describe()
        assert all(d[k] for k in ("id", "title", "claim", "section", "measures", "rule"))
        for p in PROFILES:
            assert isinstance(exp.settings(p), dict)
        assert exp.command("full").startswith(f"mlplab reproduce --only {cid}")


def test_default_rows_lists_stats_and_scalars():
    rows = dict(default_rows({"a": stat([1.0, 3.0]), "b": {"c": 0.5, "curve": list(range(50))}}))
    assert rows["a"].startswith("2 ± 1.41") and rows["b / c"] == "0.5"
    assert "b / curve" not in rows  # long curves belong in figures, not in the table
    assert set(VERDICTS) == {"holds", "partly", "fails"}


def test_paired_margin_boundaries():
    from mlplab.experiments.base import MARGIN_SE, paired

    # one seed: no spread, only the floor; exactly on the floor is a tie
    assert paired([0.75], [0.5], floor=0.25)["outcome"] == "tie"
    assert paired([0.75], [0.5], floor=0.125)["outcome"] == "a"
    assert paired([0.5], [0.75], floor=0.125)["outcome"] == "b"
    # differences 1, 2, 3: mean 2, se 1/√3 → margin 2/√3 ≈ 1.15 < 2: a
    p = paired([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert p["outcome"] == "a" and p["margin"] == pytest.approx(MARGIN_SE / 3**0.5)
    # the same means, a spread that puts the difference inside the margin: a tie
    assert paired([5.0, -1.0, 2.0], [0.0, 0.0, 0.0])["outcome"] == "tie"
    # a margin exactly equal to the difference is a tie: diffs 0 and 2 → mean 1, se 1
    assert paired([0.0, 2.0], [0.0, 0.0], k=1.0)["outcome"] == "tie"
    # non-finite seeds are dropped
    assert paired([None, 1.0], [0.0, 0.0])["n"] == 1
    with pytest.raises(ConfigError):
        paired([1.0], [1.0, 2.0])


def test_score_text_says_what_score_verdict_does():
    from mlplab.experiments.base import margin_text, score_text

    assert "fewer than half" in score_text()
    assert score_verdict(1, 3) == "fails" and score_verdict(2, 4) == "partly"  # half: partly
    assert "at most 1 does" in score_text(fails_at_most=1)
    assert score_verdict(1, 4, fails_at_most=1) == "fails"
    assert score_verdict(2, 4, fails_at_most=1) == "partly"
    assert "none does" in score_text(fails_at_most=0)
    assert "2 standard errors" in margin_text() and "tie" in margin_text()


def test_stat_mean_of_equal_values_is_exact():
    assert stat([0.1, 0.1, 0.1])["mean"] == 0.1
