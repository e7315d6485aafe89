"""Kill ``mlplab train`` with SIGKILL at random moments and resume it: is the result bit for bit
the uninterrupted run's?  (BENCHMARKS.md, "Killed and resumed"; a correctness result, not a
timing.)

One uninterrupted run is trained first.  Then, ``--kills`` times: the same command is started
in a fresh folder, killed with SIGKILL after a delay drawn uniformly from [0, 1.2 × the
uninterrupted run's wall time] (so a kill can land during start-up, before the first
checkpoint, mid-epoch, during a checkpoint write, during the final files or after the end),
then ``mlplab train --resume DIR`` is run until it succeeds — or, when the kill landed before
``spec.json`` was written, the original command is run again.  The weights in ``model.npz``,
the history's losses and every parameter's bytes are compared with the uninterrupted run's.

Usage::

    python benchmarks/kill_resume.py --kills 20 --seed 0 [--out DIR] [--json]

Exit status 0 when every resumed run is bit-identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: A run of a few seconds with dropout (random masks must resume too) and Adam state.
TRAIN = [
    "--dataset", "digits", "--hidden", "32,32", "--epochs", "8", "--batch-size", "32",
    "--dropout", "0.1", "--seed", "3",
]  # fmt: skip


def _cli(*argv) -> list[str]:
    return [sys.executable, "-m", "mlplab", *argv]


def _params(folder: Path) -> dict[str, bytes]:
    with np.load(folder / "model.npz", allow_pickle=False) as z:
        return {k: z[k].tobytes() for k in z.files}


def _losses(folder: Path) -> list:
    return [
        r.get("train_loss") for r in json.loads((folder / "history.json").read_text())["records"]
    ]


def _stage(folder: Path) -> str:
    """Where the killed run had got to, from the files it left."""
    if not (folder / "spec.json").is_file():
        return "before spec.json"
    if not (folder / "checkpoint.npz").is_file():
        return "before the first checkpoint"
    if (folder / "metrics.json").is_file():
        return "after the end"
    if (folder / "model.npz").is_file():
        return "while writing the final files"
    return "during training"


def run(kills: int, seed: int, root: Path) -> dict:
    """Train once uninterrupted, then ``kills`` killed-and-resumed runs; return the tally."""
    rng = random.Random(seed)
    full = root / "full"
    t0 = time.perf_counter()
    subprocess.run(_cli("train", *TRAIN, "--out", str(full), "--json"), check=True,
                   capture_output=True)  # fmt: skip
    wall = time.perf_counter() - t0
    ref_params, ref_losses = _params(full), _losses(full)
    results = []
    for i in range(kills):
        out = root / f"kill{i}"
        delay = rng.uniform(0.0, 1.2 * wall)
        p = subprocess.Popen(_cli("train", *TRAIN, "--out", str(out), "--json"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
        killed = p.returncode == -signal.SIGKILL
        stage = _stage(out) if killed else "finished before the kill"
        resumes = 0
        while True:
            if (out / "spec.json").is_file():
                cmd = _cli("train", "--resume", str(out), "--json")
            else:  # killed before the run folder held its settings: start again
                cmd = _cli("train", *TRAIN, "--out", str(out), "--json")
            done = subprocess.run(cmd, capture_output=True, text=True)
            resumes += 1
            if done.returncode == 0 or resumes >= 3:
                break
        ok = done.returncode == 0
        same = ok and _params(out) == ref_params and _losses(out) == ref_losses
        results.append({"kill": i, "delay_s": round(delay, 3), "killed": killed, "stage": stage,
                        "resume_exit": done.returncode, "identical": same,
                        "error": None if ok else done.stderr.strip()[-300:]})  # fmt: skip
    stages: dict[str, int] = {}
    for r in results:
        stages[r["stage"]] = stages.get(r["stage"], 0) + 1
    return {
        "command": "mlplab train " + " ".join(TRAIN),
        "kills": kills,
        "seed": seed,
        "sigkilled": sum(r["killed"] for r in results),
        "stages": stages,
        "identical": sum(r["identical"] for r in results),
        "runs": results,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="folder for the runs (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="print the whole tally as JSON")
    args = ap.parse_args(argv)
    if args.out is None:
        root = Path(tempfile.mkdtemp(prefix="kill_resume-"))
    else:
        root = Path(args.out)
        root.mkdir(parents=True, exist_ok=True)
    tally = run(args.kills, args.seed, root)
    if args.json:
        print(json.dumps(tally, indent=2))
    else:
        print(f"{tally['command']}")
        print(f"{tally['sigkilled']} of {tally['kills']} runs SIGKILLed; where: {tally['stages']}")
        print(f"bit-identical to the uninterrupted run after resume: "
              f"{tally['identical']} of {tally['kills']}")  # fmt: skip
        for r in tally["runs"]:
            if not r["identical"]:
                print(f"  kill {r['kill']} ({r['stage']}): exit {r['resume_exit']} {r['error']}")
    print(f"runs in {root}", file=sys.stderr)
    return 0 if tally["identical"] == tally["kills"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
