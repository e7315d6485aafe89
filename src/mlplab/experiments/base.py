"""The claims ledger's building block: one :class:`Experiment` per claim of the reference text.

An experiment turns one claim (``C01`` … ``C23`` of ``CLAIMS.md``) into a measurement and a
verdict.  The verdict is decided by a rule written in code *before* any run — a pure function
of the measurements — so a reader can check it and a test can feed it numbers that must pass
and numbers that must fail.

Writing an experiment
---------------------
Subclass :class:`Experiment` in a module of ``mlplab.experiments`` (any module name not
starting with ``_`` is discovered automatically; no list to edit) and decorate the class with
:func:`register`::

    import numpy as np
    from mlplab.experiments.base import Experiment, Judgement, register, stat

    @register
    class IdentityCollapse(Experiment):
        id = "C04"                                   # the claim id of CLAIMS.md
        title = "Identity activations collapse to one linear map"
        claim = "With the identity activation a deep MLP collapses to one linear map"  # CLAIMS.md
        section = "2.3"                              # where the reference text says it
        measures = "composed net vs W₂W₁x + (W₂b₁+b₂); best linear XOR accuracy"
        rule = "holds if the max deviation is below 1e-12 relative on every seed; fails otherwise"
        # settings per profile: ``tiny`` (tests, seconds), ``quick`` (≈5 s), ``full`` (≤ 80 s)
        profiles = {
            "tiny": {"depth": 3, "width": 4},
            "quick": {"depth": 4, "width": 16},
            "full": {"depth": 8, "width": 64},
        }

        def measure(self, settings, seeds, rng):
            errs = []
            for seed in seeds:
                g = self.seed_rng(seed)              # independent of the other seeds
                ...                                  # reuse mlplab.core / data / ... here
                errs.append(float(err))
            return {"max_rel_dev": stat(errs)}       # JSON-able: dicts, lists, numbers, str

        def judge(self, m):                          # PURE: measurements -> Judgement
            worst = m["max_rel_dev"]["max"]
            ok = worst < 1e-12
            return Judgement("holds" if ok else "fails", f"worst relative deviation {worst:.1e}")

        def breaks(self, m):                         # one measured sentence, ends the section
            return f"The deviation peaks at {m['max_rel_dev']['max']:.1e}; ..."

        def figures(self, m):                        # optional: [(name, matplotlib Figure)]
            fig, ax = new_figure()
            ax.plot(...)
            return [("deviation per seed", fig)]

What each piece is for
----------------------
``measure(settings, seeds, rng) -> dict``
    Runs the experiment with the settings of one profile (``self.profiles[profile]``, passed in
    so the recorded settings are exactly what ran) on every seed and returns the measurements:
    a JSON-able dict.  Per-seed numbers go through :func:`stat`, which keeps the per-seed
    values with their mean, standard deviation, min and max.  Use :meth:`seed_rng` for the
    work of one seed (so a seed's numbers do not depend on which other seeds run) and ``rng``
    for anything shared.  No global random state, no prints, no files.
``judge(measurements) -> Judgement``
    The rule, as code: a pure function of the measurements returning ``Judgement(verdict,
    evidence)`` with ``verdict`` one of :data:`VERDICTS` (``holds``, ``partly``, ``fails``) and
    ``evidence`` a sentence quoting the numbers that decided it.  ``rule`` is the same rule in
    words, shown in the report next to the verdict.
``figures(measurements) -> list[(name, Figure)]``
    Optional matplotlib figures drawn from the measurements alone (use :func:`new_figure`); the
    runner renders them to PNG and closes them.
``rows(measurements) -> list[(quantity, value)]``
    Optional: the numbers the report tabulates.  The default lists every :func:`stat` in the
    measurements as ``mean ± std [min, max] (n)`` and every scalar leaf.

Cells: a claim split into independent units
--------------------------------------------
A claim whose full profile is long splits its work into *cells* — independent units (one
seed × one setting, typically) that the runner may run as separate tasks, in any order, in
other processes or on other machines, and caches one by one (an interrupted ledger resumes
where it stopped).  Three methods make the cell API; the defaults make the whole claim one
cell that calls ``measure``, so an experiment that only writes ``measure`` keeps working:

``cells(settings, seeds) -> list[dict]``
    The units of work, each a small JSON-able dict (e.g. ``{"seed": 1, "depth": 8}``).  The
    list's order is part of the result: ``combine`` receives the results in this order.
``measure_cell(settings, cell) -> dict``
    Measure one cell; JSON-able.  It must depend on ``settings`` and ``cell`` only (draw its
    randomness from :meth:`Experiment.seed_rng` of the cell's seed), so a cell gives the same
    numbers inline, in a process pool or on a cluster.
``combine(settings, seeds, results) -> dict``
    Merge the cells' results (same order as ``cells``) into the measurements that ``judge``,
    ``figures`` and ``rows`` read.  Pure and cheap; runs where the claim's cells meet.

Example — one cell per (seed, depth)::

    def cells(self, settings, seeds):
        return [{"seed": s, "depth": d} for d in settings["depths"] for s in seeds]

    def measure_cell(self, settings, cell):
        g = self.seed_rng(cell["seed"])
        return {"loss": train_one(settings, cell["depth"], g)}

    def combine(self, settings, seeds, results):
        by = {}
        for cell, r in zip(self.cells(settings, seeds), results):
            by.setdefault(str(cell["depth"]), []).append(r["loss"])
        return {"loss": {d: stat(v) for d, v in by.items()}}

:func:`run_cells_inline` runs the three in this process (what ``measure`` of a converted
experiment is, so the ``measure`` entry point stays available).  A cell-based experiment may
also set ``work(settings)`` — the relative cost of one seed of a profile — which
``mlplab reproduce --dry-run`` uses to scale measured CPU time to another profile.

Noise margins and rule text
---------------------------
:func:`paired` compares two arms measured on the same seeds: the paired differences, their
mean and a noise margin of :data:`MARGIN_SE` standard errors (with a stated floor); a
difference whose size is not *above* the margin is a tie.  :func:`margin_text` and
:func:`score_text` write the matching sentences for ``rule`` from the same constants, so
the rule shown in the report cannot drift from the code.

What would change the verdict
-----------------------------
``breaks(measurements) -> str`` returns one measured sentence on where the claim stops
holding, or holds best (e.g. "sigmoid falls 3 points behind at two hidden layers"); the
report ends the claim's section with it.

Profiles and seeds
------------------
:data:`PROFILES` holds ``tiny`` (tests: one seed, seconds), ``quick`` (the whole ledger in about
two minutes on two cores; 2 seeds), ``full`` (about fifteen minutes on two cores; 3 seeds,
full MNIST where the claim is about MNIST) and ``paper`` (the published scale: full MNIST, 5
seeds, widths to 2048, depths to 16; hours of CPU, meant for many cores or a cluster).  Each
experiment states its settings for ``tiny``, ``quick`` and ``full`` in ``profiles``; a
``paper`` entry is optional and defaults to the ``full`` settings (the scale is then the full
profile's, run on 5 seeds).  An experiment whose result does not depend on randomness
(parameter counts, derivative maxima) sets ``uses_seeds = False``; it still receives the seeds.

Registry
--------
:data:`REGISTRY` maps claim ids to experiment instances; :func:`mlplab.experiments.get` and
:func:`mlplab.experiments.all_experiments` load every module first.
"""

from __future__ import annotations

import abc
import io
import math
import re
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from mlplab.errors import ConfigError, check_choice

__all__ = [
    "LEDGER_IDS",
    "VERDICTS",
    "HOLDS",
    "PARTLY",
    "FAILS",
    "Judgement",
    "Profile",
    "PROFILES",
    "get_profile",
    "Experiment",
    "REGISTRY",
    "register",
    "stat",
    "is_stat",
    "new_figure",
    "figure_png",
    "score_verdict",
    "score_text",
    "paired",
    "margin_text",
    "MARGIN_SE",
    "REQUIRED_PROFILES",
    "run_cells_inline",
    "merge_parts",
    "format_stat",
    "short_stat",
    "default_rows",
]

#: Every claim id of the ledger (CLAIMS.md), whether or not its experiment is registered yet.
LEDGER_IDS = tuple(f"C{i:02d}" for i in range(1, 24))

HOLDS, PARTLY, FAILS = "holds", "partly", "fails"
#: The three verdicts a rule may return, strongest first.
VERDICTS = (HOLDS, PARTLY, FAILS)


class Judgement(NamedTuple):
    """What a rule returns: the verdict and a sentence of evidence quoting the numbers."""

    verdict: str
    evidence: str


@dataclass(frozen=True)
class Profile:
    """A budget level shared by every experiment.

    Attributes
    ----------
    name : {"tiny", "quick", "full"}
    n_seeds : int
        Seeds run by default (seeds ``0 … n_seeds−1``); ``--seeds`` overrides it.
    description : str
    """

    name: str
    n_seeds: int
    description: str

    def seeds(self, n: int | None = None) -> list[int]:
        """The seed list ``[0, 1, …, n−1]`` (``n`` defaults to ``n_seeds``)."""
        return list(range(self.n_seeds if n is None else int(n)))


PROFILES: dict[str, Profile] = {
    "tiny": Profile("tiny", 1, "test budget: one seed, a few seconds for the whole ledger"),
    "quick": Profile("quick", 2, "the whole ledger in about two minutes on two cores; 2 seeds"),
    "full": Profile("full", 3, "about fifteen minutes on two cores; full MNIST; 3 seeds"),
    "paper": Profile(
        "paper", 5, "published scale: full MNIST, widths to 2048, depths to 16; 5 seeds"
    ),
}

#: Profiles every experiment must state settings for; ``paper`` falls back to ``full``.
REQUIRED_PROFILES = ("tiny", "quick", "full")

#: A paired difference is beyond the noise when its size is above this many standard errors.
MARGIN_SE = 2.0


def get_profile(name: str) -> Profile:
    """The :class:`Profile` called ``name``; ConfigError naming the valid ones otherwise."""
    check_choice("profile", name, list(PROFILES))
    return PROFILES[name]


def stat(values) -> dict:
    """Per-seed values with their summary: ``{"per_seed", "mean", "std", "min", "max", "n"}``.

    ``std`` is the sample standard deviation (ddof = 1; 0 for a single value).  Non-finite
    values (a diverged run) are kept in ``per_seed`` as ``None`` and counted in
    ``"nonfinite"``; the summary is taken over the finite ones (all ``None`` if there are none).
    """
    vals = [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
    finite = [v for v in vals if math.isfinite(v)]
    out = {
        "per_seed": [v if math.isfinite(v) else None for v in vals],
        "n": len(vals),
        "nonfinite": len(vals) - len(finite),
    }
    if finite:
        arr = np.asarray(finite)
        lo, hi = float(arr.min()), float(arr.max())
        out.update(
            # clamped to [min, max]: equal values give exactly that value (a rule's boundary
            # is then met exactly, not missed by a rounding error of the sum)
            mean=min(max(float(arr.mean()), lo), hi),
            std=float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
            min=float(arr.min()),
            max=float(arr.max()),
        )
    else:
        out.update(mean=None, std=None, min=None, max=None)
    return out


def is_stat(obj) -> bool:
    """True for a dict made by :func:`stat`."""
    return isinstance(obj, dict) and {"per_seed", "mean", "std"} <= set(obj)


def score_verdict(passed: int, total: int, *, fails_at_most: int | None = None) -> str:
    """Verdict from a count of sub-predictions that came true.

    ``holds`` when all ``total`` came true, ``fails`` when at most ``fails_at_most`` did
    (default: fewer than half, i.e. at most ``(total − 1) // 2``), ``partly`` in between.
    :func:`score_text` says the same in words.
    """
    if total <= 0:
        raise ConfigError(f"total must be >= 1; got {total}")
    if passed >= total:
        return HOLDS
    limit = (total - 1) // 2 if fails_at_most is None else fails_at_most
    return FAILS if passed <= limit else PARTLY


def score_text(what: str = "predictions", *, fails_at_most: int | None = None) -> str:
    """The words of :func:`score_verdict`'s boundaries, for a ``rule``.

    >>> score_text("parts", fails_at_most=1)
    'holds if every one of the parts comes true, fails if at most 1 does, partly otherwise.'
    """
    fail = "fewer than half do" if fails_at_most is None else f"at most {fails_at_most} does"
    if fails_at_most == 0:
        fail = "none does"
    return f"holds if every one of the {what} comes true, fails if {fail}, partly otherwise."


def paired(a, b, *, floor: float = 0.0, k: float | None = None) -> dict:
    """Compare arm ``a`` with arm ``b`` measured on the same seeds (paired differences a − b).

    ``a`` and ``b`` are per-seed value lists or :func:`stat` dicts (their ``per_seed``), in
    the same seed order.  Returns ``{"diff", "se", "margin", "n", "outcome"}``: the mean
    paired difference, its standard error (sample std / √n; 0 for one seed), the margin
    ``max(floor, k·se)`` (``k`` = :data:`MARGIN_SE`; diff and margin rounded to 1e-12) and
    ``outcome`` — ``"a"`` when
    ``diff > margin``, ``"b"`` when ``diff < −margin``, ``"tie"`` otherwise (a difference
    exactly on the margin is a tie).  Seeds where either arm is not finite are left out; with
    none left the outcome is ``"none"`` and ``diff`` is None.
    """
    k = MARGIN_SE if k is None else float(k)
    va = a["per_seed"] if is_stat(a) else list(a)
    vb = b["per_seed"] if is_stat(b) else list(b)
    if len(va) != len(vb):
        raise ConfigError(f"paired arms need the same seeds; got {len(va)} and {len(vb)} values")
    d = [
        float(x) - float(y)
        for x, y in zip(va, vb)
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
    ]
    if not d:
        return {"diff": None, "se": None, "margin": floor, "n": 0, "outcome": "none"}
    arr = np.asarray(d)
    se = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else 0.0
    # rounded to 1e-12 so that decimal inputs meet a boundary exactly (0.505 − 0.5 is 0.005)
    diff = round(float(arr.mean()), 12)
    margin = round(max(float(floor), k * se), 12)
    outcome = "a" if diff > margin else "b" if diff < -margin else "tie"
    return {"diff": diff, "se": se, "margin": margin, "n": int(arr.size), "outcome": outcome}


def margin_text(floor: str | None = None) -> str:
    """The words of :func:`paired`'s margin, for a ``rule`` (``floor`` already formatted)."""
    k = f"{MARGIN_SE:g}"
    text = f"{k} standard errors of the paired per-seed difference"
    if floor:
        text += f" (at least {floor})"
    return text + "; a difference not above the margin is a tie"


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 4.0):
    """A matplotlib ``(Figure, axes)`` pair on the Agg canvas (no display, no global pyplot)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def figure_png(fig, *, dpi: int = 110) -> bytes:
    """Render a matplotlib Figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


_ID = re.compile(r"^C\d{2}$")


class Experiment(abc.ABC):  # noqa: B024 - measure or the cell API, either may be overridden
    """One claim of the ledger.  See the module docstring for a complete example.

    Class attributes to set: ``id``, ``title``, ``claim``, ``section``, ``measures``, ``rule``,
    ``profiles`` (settings per profile name, for every name in :data:`PROFILES`), optionally
    ``uses_seeds`` and ``cost`` (relative run time per profile, used to start long experiments
    first).
    """

    def __init_subclass__(cls, **kwargs):
        """A subclass must override ``measure`` or the cell API's ``measure_cell``: refused
        when the class is defined, not when a run reaches it."""
        super().__init_subclass__(**kwargs)
        if cls.measure is Experiment.measure and cls.measure_cell is Experiment.measure_cell:
            raise TypeError(f"{cls.__name__} defines neither measure nor measure_cell")

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    claim: ClassVar[str] = ""
    section: ClassVar[str] = ""
    measures: ClassVar[str] = ""
    rule: ClassVar[str] = ""
    profiles: ClassVar[dict[str, dict]] = {}
    uses_seeds: ClassVar[bool] = True
    cost: ClassVar[dict[str, float]] = {}

    # ------------------------------------------------------------------ to implement
    def measure(self, settings: dict, seeds: list[int], rng: np.random.Generator) -> dict:
        """Run the experiment; return JSON-able measurements (per-seed numbers via :func:`stat`).

        An experiment either overrides this or the cell API (``cells``, ``measure_cell``,
        ``combine``); the default runs the cells in this process.
        """
        return run_cells_inline(self, settings, seeds)

    def cells(self, settings: dict, seeds: list[int]) -> list[dict]:
        """The independent units of work (JSON-able dicts); default: one cell, every seed."""
        return [{"seeds": [int(s) for s in seeds]}]

    def measure_cell(self, settings: dict, cell: dict) -> dict:
        """Measure one cell; default: ``measure`` on the cell's seeds (the one-cell case)."""
        seeds = [int(s) for s in cell["seeds"]]
        rng = np.random.default_rng([int(self.id[1:]), *seeds])
        return self.measure(dict(settings), seeds, rng)

    def combine(self, settings: dict, seeds: list[int], results: list[dict]) -> dict:
        """Merge the cells' results (in ``cells`` order) into the measurements."""
        if len(results) != 1:
            raise ValueError(f"{self.id}: the default combine takes one cell; got {len(results)}")
        return results[0]

    def group(self, settings: dict, seeds: list[int], results: list[dict], *fields) -> dict:
        """The cells' results grouped by the cell fields named (in ``cells`` order, so each
        group lists its seeds in order): ``{(value, …): [result, …]}``, values as strings
        when they are numbers; a single field gives plain keys."""
        groups: dict = {}
        for cell, r in zip(self.cells(settings, seeds), results):
            key = tuple(
                str(cell[f]) if isinstance(cell[f], (int, float)) else cell[f] for f in fields
            )
            groups.setdefault(key[0] if len(fields) == 1 else key, []).append(r)
        return groups

    def work(self, settings: dict) -> float:
        """Relative cost of one seed at ``settings`` (for scaling CPU estimates between
        profiles); default 1, i.e. cost proportional to the seed count only."""
        return 1.0

    def breaks(self, measurements: dict) -> str:
        """One measured sentence on where the claim stops holding or holds best."""
        return ""

    @abc.abstractmethod
    def judge(self, measurements: dict) -> Judgement:
        """The rule: a pure function of ``measurements`` → ``Judgement(verdict, evidence)``."""

    def figures(self, measurements: dict) -> list:
        """``[(name, matplotlib Figure)]`` drawn from the measurements alone."""
        return []

    def rows(self, measurements: dict) -> list[tuple[str, str]]:
        """``[(quantity, value text)]`` for the report: every stat and scalar leaf by default."""
        return default_rows(measurements)

    # ------------------------------------------------------------------ provided
    def settings(self, profile: str) -> dict:
        """A copy of this experiment's settings for ``profile`` (``paper`` defaults to
        ``full``)."""
        check_choice("profile", profile, list(PROFILES))
        if profile not in self.profiles:
            return dict(self.profiles["full"])
        return dict(self.profiles[profile])

    def seed_rng(self, seed: int) -> np.random.Generator:
        """A Generator for the work of one seed, independent of the claim's other seeds."""
        return np.random.default_rng([int(self.id[1:]), int(seed)])

    def command(self, profile: str = "quick", seeds: list[int] | None = None) -> str:
        """The command line that reruns this experiment alone."""
        cmd = f"mlplab reproduce --only {self.id} --profile {profile}"
        if seeds is not None and len(seeds) != PROFILES[profile].n_seeds:
            cmd += f" --seeds {len(seeds)}"
        return cmd

    def describe(self) -> dict:
        """The claim's static description (no measurement)."""
        return {
            "id": self.id,
            "title": self.title,
            "claim": self.claim,
            "section": self.section,
            "measures": self.measures,
            "rule": self.rule,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}: {self.title}>"


def merge_parts(parts: list) -> object:
    """Merge the measurements of cells that each ran ``measure`` on part of the work.

    Walks the trees together: :func:`stat` dicts are joined (their per-seed values
    concatenated in the parts' order, the summary recomputed), other dicts are merged key by
    key (a key missing from some parts is taken from those that have it, so parts that each
    measured other activations combine into one), and any other value is the first part's.
    Suits ``measure`` functions whose per-seed numbers all live in stats; lists of per-seed
    items are not joined.
    """
    parts = list(parts)
    if all(is_stat(p) for p in parts):
        return stat([v if v is not None else math.nan for p in parts for v in p["per_seed"]])
    if all(isinstance(p, dict) for p in parts):
        keys = list(dict.fromkeys(k for p in parts for k in p))
        return {k: merge_parts([p[k] for p in parts if k in p]) for k in keys}
    return parts[0]


def run_cells_inline(exp: Experiment, settings: dict, seeds: list[int]) -> dict:
    """``combine`` of every cell measured here in order, each result round-tripped through
    JSON exactly as the runner's cache stores it (so inline and pooled runs agree)."""
    import json

    seeds = [int(s) for s in seeds]
    cells = json.loads(json.dumps(exp.cells(dict(settings), seeds)))
    results = [
        json.loads(json.dumps(exp.measure_cell(dict(settings), c), allow_nan=True)) for c in cells
    ]
    return exp.combine(dict(settings), seeds, results)


#: Claim id → experiment instance.  Filled by :func:`register` as modules are imported.
REGISTRY: dict[str, Experiment] = {}


def register(cls: type[Experiment]) -> type[Experiment]:
    """Class decorator: check the class's declarations and add an instance to :data:`REGISTRY`."""
    if not _ID.match(cls.id or ""):
        raise ValueError(f"{cls.__name__}.id must look like 'C07'; got {cls.id!r}")
    for field in ("title", "claim", "section", "measures", "rule"):
        if not getattr(cls, field):
            raise ValueError(f"{cls.__name__} ({cls.id}) must set {field}")
    missing = [p for p in REQUIRED_PROFILES if p not in cls.profiles]
    if missing:
        raise ValueError(f"{cls.__name__} ({cls.id}) has no settings for profiles {missing}")
    if cls.id in REGISTRY and type(REGISTRY[cls.id]).__qualname__ != cls.__qualname__:
        raise ValueError(f"claim {cls.id} is registered twice ({REGISTRY[cls.id]!r} and {cls})")
    REGISTRY[cls.id] = cls()
    return cls


def _fmt(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x == 0:
            return "0"
        if not math.isfinite(x):
            return str(x)
        ax = abs(x)
        return f"{x:.3g}" if 1e-3 <= ax < 1e5 else f"{x:.2e}"
    return str(x)


def format_stat(s: dict) -> str:
    """``mean ± std [min, max] (n seeds)`` for a :func:`stat` dict."""
    if s.get("mean") is None:
        return f"no finite value ({s.get('n', 0)} runs)"
    text = _fmt(s["mean"])
    if s.get("n", 1) > 1:
        text += f" ± {_fmt(s['std'])}  [{_fmt(s['min'])}, {_fmt(s['max'])}]  (n={s['n']})"
    if s.get("nonfinite"):
        text += f", {s['nonfinite']} non-finite"
    return text


def short_stat(s: dict | None, *, scale: float = 1.0, unit: str = "") -> str:
    """``mean ± std`` of a :func:`stat` dict (times ``scale``), for compact report rows."""
    if not s or s.get("mean") is None:
        return "—"
    text = _fmt(s["mean"] * scale) + unit
    if s.get("n", 1) > 1:
        text += f" ± {_fmt(s['std'] * scale)}{unit}"
    if s.get("nonfinite"):
        text += f" ({s['nonfinite']} non-finite)"
    return text


def default_rows(m, prefix: str = "", limit: int = 60) -> list[tuple[str, str]]:
    """Every :func:`stat` and scalar leaf of a measurements tree, as ``(path, text)`` rows."""
    rows: list[tuple[str, str]] = []

    def walk(obj, path):
        if len(rows) >= limit:
            return
        if is_stat(obj):
            rows.append((path, format_stat(obj)))
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{path} / {k}" if path else str(k))
        elif isinstance(obj, (list, tuple)):
            if obj and len(obj) <= 8 and all(isinstance(v, (int, float, str)) for v in obj):
                rows.append((path, ", ".join(_fmt(v) for v in obj)))
        else:
            rows.append((path, _fmt(obj)))

    walk(m, prefix)
    return rows
