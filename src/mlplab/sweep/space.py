"""A sweep's parameter space: axes over ``mlplab train`` settings, expanded into trials.

An *axis* names one setting of :class:`mlplab.runs.RunConfig` (``lr``, ``hidden``,
``batch_size`` …; dashes and a leading ``--`` are accepted) and either

* lists values for a grid (``--grid lr=1e-3,3e-3,1e-2``; list-valued settings join their items
  with ``x`` or ``+``: ``--grid hidden=64,128,256x256``), or
* gives a distribution for random search (``--sample lr=1e-4:1e-1:log``, ``dropout=0:0.5``,
  ``epochs=2:8:int``, or comma-separated choices ``activation=relu,tanh``).

Each value is parsed by the flag of ``mlplab train`` itself, so it is typed and checked exactly
as on that command line.  :func:`expand` turns the axes into the list of trials: the grid's
product, times ``trials`` random draws when there are sample axes (drawn from a NumPy
Generator seeded by ``sample_seed``: the same command gives the same trials), times the seeds.
Every trial's full settings are resolved (:func:`mlplab.runs.config_from_args`) before anything
runs, so a bad combination fails at once with the flag's own message.

A space can also come from a JSON or YAML file (YAML through PyYAML, which Ray installs)::

    settings: {dataset: moons, epochs: 5}      # fixed settings of every trial
    grid: {lr: [0.001, 0.01], hidden: ["64", "128x128"]}
    sample: {dropout: "0:0.5"}                 # optional, with trials: N
    trials: 4
    seeds: 2
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
from pathlib import Path

import numpy as np

from mlplab import runs
from mlplab.errors import ConfigError, check_range

__all__ = ["Axis", "SETTINGS", "setting_name", "parse_axis", "load_space_file", "expand",
           "trial_config"]  # fmt: skip

#: the settings a sweep may vary or fix: every RunConfig field but the ensemble member index
SETTINGS = tuple(f.name for f in dataclasses.fields(runs.RunConfig) if f.name != "member")
DISTRIBUTIONS = ("uniform", "log", "int")


@dataclasses.dataclass
class Axis:
    """One swept setting: ``kind`` is ``grid`` or ``choice`` (with ``values``) or one of
    :data:`DISTRIBUTIONS` (with ``lo``, ``hi``)."""

    name: str
    kind: str
    values: list = dataclasses.field(default_factory=list)
    lo: float | None = None
    hi: float | None = None

    def to_dict(self) -> dict:
        """JSON form (what sweep.json stores)."""
        return dataclasses.asdict(self)


class _RaisingParser(argparse.ArgumentParser):
    """argparse whose errors are ConfigErrors instead of an exit."""

    def error(self, message):
        raise ConfigError(message)


def _train_parser() -> argparse.ArgumentParser:
    p = _RaisingParser(prog="mlplab sweep", add_help=False)
    runs.add_data_args(p)
    runs.add_model_args(p)
    runs.add_train_args(p)
    return p


def setting_name(text: str, where: str = "--grid") -> str:
    """The RunConfig field a user means by ``text`` (``batch-size``, ``--lr`` …)."""
    name = text.strip().lstrip("-").replace("-", "_")
    if name not in SETTINGS:
        raise ConfigError(
            f"{where}: unknown setting {text.strip()!r}; a sweep varies settings of mlplab "
            f"train: {', '.join(SETTINGS)}"
        )
    return name


def parse_value(name: str, text, parser=None):
    """``text`` as the value of setting ``name``, parsed by its ``mlplab train`` flag."""
    if isinstance(text, (list, tuple)):
        text = ",".join(str(t) for t in text)
    text = str(text).strip()
    if not text:
        raise ConfigError(f"{runs.flag(name)}: empty value")
    parser = parser or _train_parser()
    if _is_list_setting(name):
        text = text.replace("+", ",")
        if all(part.isdigit() for part in text.split("x")):
            text = text.replace("x", ",")
    args = parser.parse_args([runs.flag(name), text])
    return getattr(args, name)


def _is_list_setting(name: str) -> bool:
    default = runs.RunConfig.__dataclass_fields__[name]
    hint = str(default.type)
    return "list" in hint


def parse_axis(text: str, *, sample: bool = False) -> Axis:
    """``NAME=V1,V2,...`` (grid, or choices when ``sample``) or, with ``sample``,
    ``NAME=LO:HI[:log|:int]``."""
    where = "--sample" if sample else "--grid"
    name_text, eq, spec = str(text).partition("=")
    if not eq:
        raise ConfigError(f"{where} takes NAME=VALUES, e.g. lr=1e-3,1e-2; got {text!r}")
    name = setting_name(name_text, where)
    return axis_from_spec(name, spec, sample=sample)


def axis_from_spec(name: str, spec, *, sample: bool) -> Axis:
    """An :class:`Axis` from its value text (or, from a file, a list of values)."""
    where = "--sample" if sample else "--grid"
    parser = _train_parser()
    if sample and isinstance(spec, str) and ":" in spec:
        parts = spec.split(":")
        kind = parts[2].strip() if len(parts) == 3 else "uniform"
        if len(parts) not in (2, 3) or kind not in DISTRIBUTIONS:
            raise ConfigError(
                f"{where} {name}: a range is LO:HI, LO:HI:log or LO:HI:int; got {spec!r}"
            )
        try:
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise ConfigError(f"{where} {name}: LO and HI must be numbers; got {spec!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConfigError(f"{where} {name}: LO must be below HI; got {spec!r}")
        if kind == "log" and lo <= 0:
            raise ConfigError(f"{where} {name}: a log range needs LO > 0; got {spec!r}")
        if kind == "int" and (lo != int(lo) or hi != int(hi)):
            raise ConfigError(f"{where} {name}: an int range needs integer ends; got {spec!r}")
        for end in (lo, hi):  # both ends must be values the flag accepts
            parse_value(name, int(end) if kind == "int" else end, parser)
        return Axis(name, kind, lo=lo, hi=hi)
    if isinstance(spec, (list, tuple)):
        items = list(spec)
    else:
        items = str(spec).split(",")
    items = [s for s in items if str(s).strip()]
    if not items:
        raise ConfigError(f"{where} {name}: no values (an empty grid); give e.g. {name}=V1,V2")
    values = [parse_value(name, item, parser) for item in items]
    return Axis(name, "choice" if sample else "grid", values=values)


def load_space_file(path) -> dict:
    """The dict in a JSON or YAML sweep file (see the module docstring)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--space {path}: {exc.strerror or exc}") from None
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(
                "a YAML sweep file needs PyYAML (pip install 'mlplab[ray]'); or write it as JSON"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--space {path} is not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"--space {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--space {path} must hold a mapping (settings, grid, sample, ...)")
    unknown = sorted(set(data) - {"settings", "grid", "sample", "trials", "seeds", "metric",
                                  "mode", "asha"})  # fmt: skip
    if unknown:
        raise ConfigError(f"--space {path}: unknown key(s) {', '.join(unknown)}")
    for key in ("settings", "grid", "sample"):
        if not isinstance(data.get(key, {}), dict):
            raise ConfigError(f"--space {path}: {key} must map setting names to values")
    return data


def _round(x: float) -> float:
    """Four significant digits: the precision a swept value is shown and stored with."""
    return float(f"{x:.4g}")


def _draw(axis: Axis, rng: np.random.Generator):
    if axis.kind == "choice":
        return axis.values[int(rng.integers(len(axis.values)))]
    if axis.kind == "int":
        return int(rng.integers(int(axis.lo), int(axis.hi) + 1))
    if axis.kind == "log":
        return _round(math.exp(rng.uniform(math.log(axis.lo), math.log(axis.hi))))
    return _round(rng.uniform(axis.lo, axis.hi))


def expand(
    axes: list[Axis],
    *,
    seeds: int | None = None,
    first_seed: int = 0,
    trials: int | None = None,
    sample_seed: int = 0,
) -> list[dict]:
    """The trials of a space: ``[{"id": "t000", "settings": {name: value, ...}}, ...]``.

    Grid points × ``trials`` draws of the sample axes × seeds ``first_seed …`` (``seeds``
    of them, when given; a ``seed`` axis is then not allowed).
    """
    names = [a.name for a in axes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"setting(s) {', '.join(dup)} swept twice; give each once")
    grid = [a for a in axes if a.kind == "grid"]
    sampled = [a for a in axes if a.kind != "grid"]
    if not axes and seeds is None:
        raise ConfigError("a sweep needs at least one --grid or --sample axis, or --seeds N")
    if trials is not None:
        check_range("--trials", trials, 1, 10_000, integer=True)
        if not sampled:
            raise ConfigError("--trials counts random draws; give --sample axes for them")
    n_draws = (trials or 10) if sampled else 1
    seed_values = [None]
    if seeds is not None:
        check_range("--seeds", seeds, 1, 1000, integer=True)
        if "seed" in names:
            raise ConfigError("give seeds either with --seeds N or as a seed axis, not both")
        seed_values = [first_seed + k for k in range(seeds)]
    rng = np.random.default_rng(sample_seed)
    draws = [{a.name: _draw(a, rng) for a in sampled} for _ in range(n_draws)]
    out = []
    for point in itertools.product(*(a.values for a in grid)):
        for draw in draws:
            for seed in seed_values:
                settings = {a.name: v for a, v in zip(grid, point)}
                settings.update(draw)
                if seed is not None:
                    settings["seed"] = seed
                out.append({"id": f"t{len(out):03d}", "settings": settings})
    if len(out) > 10_000:
        raise ConfigError(f"the space has {len(out)} trials; at most 10000 per sweep")
    return out


def trial_config(base: dict, settings: dict) -> runs.RunConfig:
    """The resolved :class:`~mlplab.runs.RunConfig` of one trial: ``base`` (the fixed
    settings) overridden by the trial's ``settings``; ConfigError names the bad flag."""
    values = {**base, **settings}
    if not values.get("dataset"):
        raise ConfigError("--dataset is required (a fixed setting, or a dataset axis)")
    return runs.config_from_args(argparse.Namespace(**values))
