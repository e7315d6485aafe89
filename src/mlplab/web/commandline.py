"""The command line box of the playground: the ``mlplab train`` command (or, for the perceptron
mode, a ``python -c`` snippet) that redoes the page's run, with what it cannot reproduce."""

from __future__ import annotations

import shlex

from mlplab.web.data import noise_option
from mlplab.web.schemas import PlaygroundConfig

__all__ = ["cli_command"]


def cli_command(cfg: PlaygroundConfig, head: str, csv: tuple[str, str] | None = None) -> dict:
    """The equivalent ``mlplab train`` command line, with what it cannot reproduce.

    ``csv`` is ``(file name, label column)`` of an uploaded file.  Returns
    ``{"command": str, "notes": [str, ...]}``.
    """
    noise = noise_option(cfg.dataset, cfg.noise)
    parts = ["mlplab train"]
    if cfg.dataset == "csv":
        name, target = csv or ("your.csv", "label")
        parts += [f"--dataset {shlex.quote(name)}", f"--target {shlex.quote(target)}"]
    else:
        parts += [f"--dataset {cfg.dataset}", f"--subset {cfg.n_samples}", f"--noise {noise:g}"]
    parts += [
        "--val-fraction 0",
        f"--test-fraction {round(1 - cfg.train_ratio, 6):g}",
        f"--hidden {','.join(str(h) for h in cfg.hidden) or 'none'}",
    ]
    if cfg.hidden:
        parts.append(f"--activations {','.join(cfg.activations)}")
    parts += [
        f"--head {head}",
        f"--init {cfg.init}",
        f"--optimizer {cfg.optimizer}",
        f"--lr {cfg.lr:g}",
        f"--schedule {cfg.schedule}",
        f"--epochs {cfg.epochs}",
        f"--batch-size {cfg.batch_size}",
        f"--weight-decay {cfg.weight_decay:g}",
        f"--l1 {cfg.l1:g}",
        f"--l2 {cfg.l2:g}",
        f"--dropout {cfg.dropout:g}",
        f"--norm {cfg.norm}",
        f"--seed {cfg.seed}",
    ]
    notes = [
        "mlplab train standardises the inputs and draws its own weights and batch order, "
        "so its numbers differ a little from the page's"
    ]
    if set(cfg.features) - {"x1", "x2"}:
        notes.append("the extra input features (x₁², x₁x₂, sin …) have no command-line flag")
    if cfg.mode == "perceptron":
        data = (
            f"load_dataset({cfg.dataset!r}, seed={cfg.seed}, n_samples={cfg.n_samples}, "
            f"noise={noise if noise is not None else 0:g}, "
            f"val_fraction=0, test_fraction={round(1 - cfg.train_ratio, 6):g}, "
            "standardize=False)"
        )
        code = (
            "from mlplab.data import load_dataset; from mlplab.perceptron import Perceptron; "
            f"d = {data}; "
            f"r = Perceptron(lr={cfg.lr:g}, epochs={cfg.epochs})"
            ".fit(d.X_train, d.y_train).result_; "
            "print(r.converged, r.epochs, r.mistakes_per_epoch[-5:])"
        )
        notes = [
            "the same rule, order and data as the page (for x₁, x₂ inputs of the sets drawn "
            "unscaled: circle, xor, gauss, spiral)"
        ]
        if set(cfg.features) - {"x1", "x2"}:
            notes.append("the extra input features (x₁², x₁x₂, sin …) are not in this snippet")
        return {"command": f'python -c "{code}"', "notes": notes}
    return {"command": " ".join(parts), "notes": notes}
