"""Time to accuracy on MNIST: training time until the test accuracy first reaches each target
(evaluation time measured apart and not counted), for mlplab's fast recipe, PyTorch eager and
scikit-learn."""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

from mlplab.bench.common import CLOCKS, TTA_SYSTEMS, Settings, load_torch, mnist_arrays
from mlplab.bench.epochs import available, torch_mlp


class TrainClock:
    """Training time with evaluations cut out: ``evaluate(fn)`` runs ``fn`` off the clock.

    ``train_seconds`` is the time since :meth:`start` minus the time spent inside
    :meth:`evaluate`, which is reported apart as ``eval_seconds``.
    """

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.eval_seconds = 0.0
        self._t0: float | None = None

    def start(self) -> None:
        self._t0 = self.clock()
        self.eval_seconds = 0.0

    @property
    def train_seconds(self) -> float:
        return self.clock() - self._t0 - self.eval_seconds

    def evaluate(self, fn):
        t = self.clock()
        try:
            return fn()
        finally:
            self.eval_seconds += self.clock() - t


class TTARecorder:
    """Checkpoints of one run: (train seconds, epochs, accuracy); first crossing per target."""

    def __init__(self, targets, clock: TrainClock):
        self.targets = sorted(float(t) for t in targets)
        self.clock = clock
        self.curve: list[dict] = []
        self.reached: dict[str, dict | None] = {target_key(t): None for t in self.targets}

    def record(self, epochs: float, accuracy_fn) -> None:
        seconds = self.clock.train_seconds  # read before the evaluation starts
        acc = float(self.clock.evaluate(accuracy_fn))
        self.curve.append({"train_seconds": seconds, "epochs": epochs, "accuracy": acc})
        for t in self.targets:
            if self.reached[target_key(t)] is None and acc >= t:
                self.reached[target_key(t)] = {"train_seconds": seconds, "epochs": epochs}

    @property
    def done(self) -> bool:
        return all(v is not None for v in self.reached.values())

    def result(self, label: str, config: dict) -> dict:
        return {
            "label": label,
            "config": config,
            "reached": self.reached,
            "final_accuracy": self.curve[-1]["accuracy"] if self.curve else None,
            "best_accuracy": max((c["accuracy"] for c in self.curve), default=None),
            "train_seconds": self.curve[-1]["train_seconds"] if self.curve else 0.0,
            "eval_seconds": self.clock.eval_seconds,
            "curve": self.curve,
        }


def target_key(target: float) -> str:
    return f"{target:.4g}"


def eval_checkpoints(steps_per_epoch: int, evals: int) -> set[int]:
    """Updates into an epoch after which to evaluate: ``evals`` even parts, less the epoch's
    end (checked separately); e.g. 469 steps, 4 parts → {117, 234, 352}."""
    return {round(steps_per_epoch * j / evals) for j in range(1, evals)} - {0, steps_per_epoch}


def _tta_mlplab(data, settings: Settings, evals: int) -> dict:
    from mlplab.core.train import Callback
    from mlplab.recipes import build_recipe, get_recipe

    Xtr, ytr, Xte, yte = data
    recipe = get_recipe("fast")
    epochs = settings.tta_recipe_epochs
    model, trainer = build_recipe("fast", Xtr.shape[1], 10, seed=settings.seed, epochs=epochs)
    clock = TrainClock(CLOCKS[settings.clock])
    rec = TTARecorder(settings.tta_targets, clock)
    spe = math.ceil(len(Xtr) / trainer.config.batch_size)  # steps per epoch
    marks = eval_checkpoints(spe, evals)
    accuracy = lambda: np.mean(model.predict(Xte) == yte)

    class Checkpoints(Callback):
        reads_gradients = False  # only evaluates: the recipe's fused SGD step may run

        def on_batch_end(self, tr, loss):  # tr.step updates are done (the fused step: + 1)
            done = tr.step - tr.epoch * spe  # updates done in this epoch
            if done in marks:
                rec.record(tr.epoch + done / spe, accuracy)

        def on_epoch_end(self, tr):
            rec.record(float(tr.epoch), accuracy)
            if rec.done or clock.train_seconds > settings.tta_max_seconds:
                tr.stop = True

    trainer.callbacks.append(Checkpoints())
    clock.start()
    trainer.fit(Xtr, ytr)
    config = {"recipe": "fast", **recipe["settings"]}
    if epochs is not None:
        config["epochs"] = epochs
    return rec.result(TTA_SYSTEMS["mlplab"], config)


def _tta_torch(data, settings: Settings, evals: int) -> dict:
    torch = load_torch()
    Xtr, ytr, Xte, yte = data
    batch, lr, sizes = 128, 1e-3, [Xtr.shape[1], 256, 256, 10]
    with torch.random.fork_rng(devices=[]):  # seeded init without touching torch's global RNG
        torch.manual_seed(settings.seed)
        model = torch_mlp(torch, sizes)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt, Xv = torch.from_numpy(Xtr), torch.from_numpy(ytr), torch.from_numpy(Xte)
    gen = torch.Generator().manual_seed(settings.seed)
    n = len(Xtr)
    spe = math.ceil(n / batch)  # steps per epoch
    marks = eval_checkpoints(spe, evals) | {spe}

    def accuracy():
        model.eval()
        with torch.no_grad():
            pred = model(Xv).argmax(1).numpy()
        model.train()
        return np.mean(pred == yte)

    clock = TrainClock(CLOCKS[settings.clock])
    rec = TTARecorder(settings.tta_targets, clock)
    clock.start()
    for epoch in range(settings.tta_max_epochs):
        order = torch.randperm(n, generator=gen)
        for done, start in enumerate(range(0, n, batch), start=1):
            idx = order[start : start + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            opt.step()
            if done in marks:
                rec.record(epoch + done / spe, accuracy)
        if rec.done or clock.train_seconds > settings.tta_max_seconds:
            break
    config = {"sizes": sizes, "optimizer": "adam", "lr": lr, "batch_size": batch}
    return rec.result(TTA_SYSTEMS["torch"], config)


def _tta_sklearn(data, settings: Settings, evals: int) -> dict:
    from sklearn.neural_network import MLPClassifier

    Xtr, ytr, Xte, yte = data
    clf = MLPClassifier(hidden_layer_sizes=(256, 256), random_state=settings.seed)
    classes = np.arange(10)
    rng = np.random.default_rng(settings.seed)
    n = len(Xtr)
    bounds = np.linspace(0, n, evals + 1).astype(int)
    accuracy = lambda: np.mean(clf.predict(Xte) == yte)
    clock = TrainClock(CLOCKS[settings.clock])
    rec = TTARecorder(settings.tta_targets, clock)
    clock.start()
    for epoch in range(settings.tta_max_epochs):
        order = rng.permutation(n)
        for j in range(evals):  # partial_fit on each part of a shuffled epoch
            part = order[bounds[j] : bounds[j + 1]]
            clf.partial_fit(Xtr[part], ytr[part], classes=classes)
            rec.record(epoch + (j + 1) / evals, accuracy)
        if rec.done or clock.train_seconds > settings.tta_max_seconds:
            break
    config = {
        "hidden_layer_sizes": [256, 256],
        "defaults": "adam, lr 1e-3, batch min(200, n), alpha 1e-4",
        "fit": f"partial_fit on {evals} parts of each shuffled epoch",
    }
    return rec.result(TTA_SYSTEMS["sklearn"], config)


def time_to_accuracy(settings: Settings, data=None, *, progress=None) -> dict:
    """Training time until the test accuracy first reaches each of ``settings.tta_targets``."""
    if data is None:
        data = mnist_arrays(settings.tta_train_samples, settings.tta_test_samples)
    runners = {"mlplab": _tta_mlplab, "torch": _tta_torch, "sklearn": _tta_sklearn}
    out = {
        "targets": list(settings.tta_targets),
        "train_samples": len(data[0]),
        "test_samples": len(data[2]),
        "evals_per_epoch": settings.tta_evals_per_epoch,
        "max_epochs": settings.tta_max_epochs,
        "max_seconds": settings.tta_max_seconds,
        "systems": {},
    }
    for name in settings.tta_systems:
        if not available(name):
            out["systems"][name] = None
            continue
        if progress is not None:
            progress(f"time to accuracy: {name}")
        repeats = settings.tta_repeats if name == "mlplab" else 1
        runs = [runners[name](data, settings, settings.tta_evals_per_epoch) for _ in range(repeats)]
        out["systems"][name] = runs[0] if repeats == 1 else median_of_runs(runs)
    return out


def median_of_runs(runs: list[dict]) -> dict:
    """One system's repeated time-to-accuracy runs as one result: the first run's curve and
    settings, and for each target the median training time over the runs (``runs_seconds``
    lists them all); a target counts as reached only when every run reached it."""
    out = dict(runs[0])
    out["repeats"] = len(runs)
    out["reached"] = {}
    for key in runs[0]["reached"]:
        hits = [r["reached"][key] for r in runs]
        seconds = [None if h is None else h["train_seconds"] for h in hits]
        if any(h is None for h in hits):
            out["reached"][key] = None
        else:
            out["reached"][key] = {
                "train_seconds": statistics.median(seconds),
                "epochs": statistics.median(h["epochs"] for h in hits),
                "runs_seconds": seconds,
            }
        out.setdefault("runs_seconds", {})[key] = seconds
    out["train_seconds"] = statistics.median(r["train_seconds"] for r in runs)
    out["eval_seconds"] = statistics.median(r["eval_seconds"] for r in runs)
    return out


# ---------------------------------------------------------------------------------------------
# scaling with width and batch
# ---------------------------------------------------------------------------------------------
