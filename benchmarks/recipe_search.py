"""The trials behind the ``best`` recipe (BENCHMARKS.md, "Recipes"): one MNIST training run of
the engine per call, its test error logged every few epochs, optionally its test logits saved
so that averaged ensembles can be scored afterwards.

Weights come from ``default_rng(seed)``, batch order and dropout from ``default_rng(seed + 1)``
(as :func:`mlplab.recipes.build_recipe`); inputs are pixels / 255.  ``ema`` (a decay, e.g.
0.999) also scores an exponential moving average of the weights, kept beside the run.

Usage::

    python benchmarks/recipe_search.py run '{"hidden": [800, 800], "dropout": 0.5,
        "input_dropout": 0.2, "optimizer": "adam", "lr": 0.001, "epochs": 40, "seed": 0}'
        --log trial.jsonl --logits trial.npy [--threads 1]
    python benchmarks/recipe_search.py ensemble trial0.npy trial1.npy trial2.npy
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
from threadpoolctl import threadpool_limits

from mlplab.bench import mnist_arrays
from mlplab.core.network import Network, mlp_spec
from mlplab.core.optim import make_optimizer, make_schedule
from mlplab.core.train import Callback, TrainConfig, Trainer, evaluate
from mlplab.io import atomic_write_bytes


class _Log(Callback):
    def __init__(self, cfg: dict, Xt, yt, path: str | None):
        self.cfg, self.Xt, self.yt, self.path = cfg, Xt, yt, path
        self.decay = cfg.get("ema")
        self.train_s = 0.0
        self.avg = None

    def on_train_begin(self, tr):
        if self.decay:
            self.avg = {k: v.copy() for k, v in tr.model.named_parameters().items()}

    def on_batch_end(self, tr, loss):  # before step tr.step: the weights after the previous one
        if self.decay:
            d = min(self.decay, (1 + tr.step) / (10 + tr.step))
            for k, v in tr.model.named_parameters().items():
                a = self.avg[k]
                a *= d
                a += (1 - d) * v

    def _error(self, model) -> float:
        return round(100 * (1 - evaluate(model, self.Xt, self.yt)["accuracy"]), 3)

    def on_epoch_end(self, tr):
        rec = tr.history.last()
        self.train_s += rec["seconds"]
        if tr.epoch % self.cfg.get("eval_every", 10) and tr.epoch != tr.config.epochs:
            return
        out = {"epoch": tr.epoch, "train_s": round(self.train_s, 1)}
        out["test_err"] = self._error(tr.model)
        out["train_loss"] = round(rec["train_loss"], 4)
        if self.decay:
            ema = tr.model.copy()
            for k, v in ema.named_parameters().items():
                v[...] = self.avg[k]
            out["ema_test_err"] = self._error(ema)
        line = json.dumps(out)
        print(line, flush=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write(line + "\n")


def run(cfg: dict, log: str | None, logits: str | None, threads: int) -> None:
    X, y, Xt, yt = mnist_arrays()
    seed = cfg.get("seed", 0)
    with threadpool_limits(threads, "blas"):
        spec = mlp_spec(
            [784, *cfg["hidden"], 10],
            "relu",
            dropout=cfg.get("dropout", 0.0),
            input_dropout=cfg.get("input_dropout", 0.0),
            norm=cfg.get("norm", "none"),
        )
        model = Network(spec, rng=np.random.default_rng(seed))
        opt = {"name": cfg["optimizer"], "lr": cfg["lr"]}
        for key in ("momentum", "weight_decay"):
            if key in cfg:
                opt[key] = cfg[key]
        trainer = Trainer(
            model,
            make_optimizer(opt),
            schedule=make_schedule(cfg.get("schedule", "cosine")),
            config=TrainConfig(
                epochs=cfg["epochs"],
                batch_size=cfg.get("batch_size", 128),
                max_norm=cfg.get("max_norm"),
            ),
            rng=np.random.default_rng(seed + 1),
            callbacks=[_Log(cfg, Xt, yt, log)],
        )
        if log:
            with open(log, "w") as f:
                f.write(json.dumps(cfg) + "\n")
        t0 = time.perf_counter()
        trainer.fit(X, y)
        print(json.dumps({"wall_seconds": round(time.perf_counter() - t0, 1)}))
        if logits:
            import io

            buf = io.BytesIO()
            np.save(buf, model.forward(model.as_input(Xt)))
            atomic_write_bytes(logits, buf.getvalue())


def ensemble(paths: list[str]) -> None:
    """Test error of each saved logit array and of the mean logits of every subset."""
    yt = mnist_arrays(1, None)[3]
    Z = [np.load(p) for p in paths]
    err = lambda z: round(100 * float(np.mean(z.argmax(1) != yt)), 2)
    for p, z in zip(paths, Z):
        print(f"{p}: {err(z)} %")
    for k in range(2, len(Z) + 1):
        errs = [err(sum(Z[i] for i in c) / k) for c in itertools.combinations(range(len(Z)), k)]
        print(f"mean logits of {k}: {errs} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="one training run")
    r.add_argument("config", type=json.loads, help="JSON settings (see the module docstring)")
    r.add_argument("--log", default=None, help="append the test errors to this JSON-lines file")
    r.add_argument("--logits", default=None, help="save the final test logits (.npy)")
    r.add_argument("--threads", type=int, default=2, help="BLAS threads (2)")
    e = sub.add_parser("ensemble", help="score averaged logits")
    e.add_argument("logits", nargs="+")
    args = ap.parse_args()
    if args.cmd == "run":
        run(args.config, args.log, args.logits, args.threads)
    else:
        ensemble(args.logits)


if __name__ == "__main__":
    main()
