"""The command line: `mlplab gradcheck` and usage errors."""

from __future__ import annotations

import json

import pytest

from mlplab.cli import main
from mlplab.core.activations import ACTIVATIONS
from mlplab.core.losses import HEADS


def test_gradcheck_json(capsys):
    assert main(["gradcheck", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one JSON object on one line
    rep = json.loads(out)
    keys = {"ok", "activations", "heads", "cases", "max_rel_err_torch", "max_rel_err_fd"}
    assert keys <= set(rep)
    assert rep["ok"] is True
    assert rep["activations"] == list(ACTIVATIONS) and rep["heads"] == list(HEADS)
    assert rep["max_rel_err_torch"] <= 1e-7 and rep["max_rel_err_fd"] <= 1e-5
    for case in rep["cases"]:
        assert set(case) == {"name", "kind", "max_rel_err_torch", "max_rel_err_fd", "ok"}
        assert case["kind"] in ("activation", "head", "layer", "network") and case["ok"]


def test_gradcheck_table(capsys):
    assert main(["gradcheck", "--no-torch", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "all pass" in out and "relu" in out and "softmax_ce" in out


@pytest.mark.parametrize("argv", [["nonsense"], ["gradcheck", "--seed", "x"], []])
def test_usage_errors_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlplab") and "error" in err


def test_top_level_help_lists_every_command(capsys):
    from mlplab.cli import COMMANDS

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", __import__("mlplab.cli", fromlist=["COMMANDS"]).COMMANDS)
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage: mlplab " + name in capsys.readouterr().out
