"""`mlplab datasets`: the built-in sets with task and shape."""

from __future__ import annotations

import json

from mlplab.cli import main
from mlplab.data import DATASETS


def test_datasets_json(capsys):
    assert main(["datasets", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    rows = {r["name"]: r for r in json.loads(out)["datasets"]}
    assert set(rows) == set(DATASETS)
    assert rows["mnist"] == {
        "name": "mnist", "task": "multiclass", "n_samples": 70000, "n_features": 784,
        "n_outputs": 10, "description": rows["mnist"]["description"],
    }  # fmt: skip
    assert rows["xor"]["task"] == "binary" and rows["xor"]["n_features"] == 2
    assert rows["poisson"]["task"] == "count" and rows["multilabel"]["n_outputs"] == 5


def test_datasets_table(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for word in ("mnist", "spiral", "regression", "784", "multilabel"):
        assert word in out
