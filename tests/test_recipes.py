"""The MNIST recipes: their settings, what they build, that the fast one learns, and the
max-norm constraint the best one relies on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlplab.core.layers import BatchNorm, Dense, Dropout
from mlplab.core.network import Network
from mlplab.core.optim import SGD
from mlplab.core.train import fit
from mlplab.errors import ConfigError
from mlplab.recipes import RECIPES, build_recipe, get_recipe, recipe_names, recipe_settings


def test_names_and_copies():
    assert recipe_names() == ["fast", "best"]
    r = get_recipe("fast")
    r["settings"]["hidden"].append(7)
    assert RECIPES["fast"]["settings"]["hidden"] == [256]  # a copy was returned
    for name in recipe_names():
        rec = get_recipe(name)
        assert rec["summary"] and rec["settings"]["dataset"] == "mnist"
        for key, why in rec["reasons"].items():
            assert key in rec["settings"] and len(why) > 20
    with pytest.raises(ConfigError, match="recipe"):
        get_recipe("fastest")


def test_settings_are_run_config_fields():
    from mlplab import runs

    fields = {f.name for f in dataclasses.fields(runs.RunConfig)}
    for name in recipe_names():
        assert set(recipe_settings(name)) <= fields, name


def test_fast_recipe_builds_what_it_says():
    model, trainer = build_recipe("fast", 784, 10, seed=3)
    dense = [la for la in model.layers if isinstance(la, Dense)]
    assert [d.units for d in dense] == [256, 10]
    assert any(isinstance(la, BatchNorm) for la in model.layers)
    opt = trainer.optimizer
    assert isinstance(opt, SGD) and opt.nesterov and opt.momentum == 0.9 and opt.lr == 0.4
    assert trainer.schedule.name == "warmup_cosine"
    assert (trainer.config.epochs, trainer.config.batch_size) == (3, 128)
    assert trainer.fast
    _, short = build_recipe("fast", 784, 10, epochs=1)
    assert short.config.epochs == 1


def test_best_recipe_has_dropout_and_max_norm():
    from mlplab.core.optim import Adam

    model, trainer = build_recipe("best", 784, 10)
    s = recipe_settings("best")
    assert isinstance(model.layers[0], Dropout) and model.layers[0].p == s["input_dropout"]
    hidden_drop = [la.p for la in model.layers[1:] if isinstance(la, Dropout)]
    assert hidden_drop == [s["dropout"]] * len(s["hidden"])
    assert [la.units for la in model.layers if isinstance(la, Dense)] == [*s["hidden"], 10]
    assert trainer.config.max_norm == s["max_norm"]
    assert isinstance(trainer.optimizer, Adam) and trainer.optimizer.lr == s["lr"]


def test_same_seed_same_model():
    a, _ = build_recipe("fast", 20, 3, seed=5)
    b, _ = build_recipe("fast", 20, 3, seed=5)
    c, _ = build_recipe("fast", 20, 3, seed=6)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    assert not np.array_equal(a.state_dict()["0.weight"], c.state_dict()["0.weight"])


def test_fast_recipe_learns_mnist_digits():
    from mlplab.bench import mnist_arrays

    Xtr, ytr, Xte, yte = mnist_arrays(4000, 1000)
    model, trainer = build_recipe("fast", 784, 10, seed=0, epochs=1)
    trainer.fit(Xtr, ytr)
    assert np.mean(model.predict(Xte) == yte) > 0.88


def test_max_norm_is_the_projection_torch_renorm_computes():
    """One SGD step then each unit's incoming weight vector projected onto ‖w‖ ≤ c, as
    ``torch.renorm(W, 2, 0, c)`` (which divides by ‖w‖ + 1e-7, hence the tolerance)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 5)), rng.integers(0, 3, 32)
    net = Network.from_sizes([5, 8, 3], "relu", dtype="float64", init="normal", init_std=1.5)
    free = net.copy()
    c = 1.2
    kw = dict(optimizer="sgd", lr=0.3, epochs=1, batch_size=32, shuffle=False)
    fit(net, X, y, max_norm=c, **kw)
    fit(free, X, y, **kw)
    clipped = 0
    for (_, a), (_, b) in zip(net.dense_layers(), free.dense_layers()):
        W = b.params["weight"]
        clipped += int(np.sum(np.linalg.norm(W, axis=1) > c))
        expect = torch.renorm(torch.from_numpy(W), 2, 0, c).numpy()
        np.testing.assert_allclose(a.params["weight"], expect, rtol=1e-6, atol=0)
        np.testing.assert_array_equal(a.params["bias"], b.params["bias"])  # biases are free
    assert clipped > 0  # the constraint was active


def test_train_command_takes_a_recipe(tmp_path, capsys):
    import json

    from mlplab.cli import main

    out = tmp_path / "run"
    argv = ["train", "--recipe", "fast", "--subset", "600", "--epochs", "1"]
    assert main([*argv, "--json", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dataset"] == "mnist" and summary["epochs"] == 1
    config = json.loads((out / "spec.json").read_text())["config"]
    fast = recipe_settings("fast")
    for key in ("hidden", "norm", "optimizer", "lr", "momentum", "schedule", "batch_size"):
        assert config[key] == fast[key], key
    assert config["val_fraction"] == 0.0  # every training image; no validation split
    assert config["epochs"] == 1  # a flag given still wins
    assert main(["train", "--recipe", "fast", "--resume", str(out)]) == 2
    assert "--recipe" in capsys.readouterr().err
    best = tmp_path / "best"
    argv = ["train", "--recipe", "best", "--subset", "200", "--epochs", "1", "--json"]
    assert main([*argv, "--out", str(best)]) == 0
    capsys.readouterr()
    spec = json.loads((best / "spec.json").read_text())
    assert spec["model"]["layers"][0] == {"type": "dropout", "p": 0.2}  # input dropout
    assert spec["config"]["max_norm"] == recipe_settings("best")["max_norm"]
