"""C23: parameter counts of GPT-2 small and BERT-base, and the rule on the FFN share."""

from __future__ import annotations

import copy

import pytest

from mlplab.experiments import get
from mlplab.experiments.runner import run_task
from mlplab.experiments.transformer import CONFIGS, count


@pytest.fixture(scope="module")
def result():
    return run_task("C23", "tiny", [0])


def test_structure(result, check_result):
    check_result(result, "C23")


def test_known_totals():
    # the published totals: GPT-2 small 124,439,808; BERT-base (with pooler) 109,482,240
    assert count(CONFIGS["GPT-2 small"])["total"] == 124_439_808
    assert count(CONFIGS["BERT-base"])["total"] == 109_482_240
    gpt = count(CONFIGS["GPT-2 small"])
    assert gpt["ffn"] == 12 * (2 * 768 * 3072 + 3072 + 768)
    assert gpt["ffn_share_non_embedding"] == pytest.approx(0.666, abs=0.002)


def test_measured_counts_match_torch_and_verdict(result):
    m = result["measurements"]
    for v in m.values():
        assert v["torch_total"] == v["total"]
    assert result["verdict"] == "partly"  # ~2/3 only once embeddings are left out


def test_rule_on_fed_measurements(result):
    exp = get("C23")
    m = result["measurements"]
    all_in = copy.deepcopy(m)
    for v in all_in.values():
        v["ffn_share_total"] = 0.66
    assert exp.judge(all_in).verdict == "holds"
    none_in = copy.deepcopy(m)
    for v in none_in.values():
        v["ffn_share_total"] = v["ffn_share_non_embedding"] = 0.4
    assert exp.judge(none_in).verdict == "fails"
