"""Kill ``mlplab train`` with SIGKILL at random moments and resume it: is the result bit for bit
the uninterrupted run's?  (BENCHMARKS.md, "Killed and resumed"; a correctness result, not a
timing.)

One uninterrupted run is trained first; its history gives the seconds per epoch and the rest
of its wall time is start-up (imports, data) and the final files.  Then, ``--kills`` times, the
same command is started in a fresh folder and killed with SIGKILL at a random moment: with
probability 1/5 a moment drawn uniformly over 1.2 × the time the uninterrupted run spent
outside its epochs (start-up, evaluation, final files; meant for the start-up, though a slow
start can push it later), otherwise a random epoch k of the run is drawn, the script waits until the
checkpoint of epoch k is on disk and kills after a further delay drawn uniformly from
[0, 1.5 epochs] — mid-epoch, during a checkpoint write, during the final files or after the
end.  Then ``mlplab train --resume DIR`` is run until it succeeds — or, when the kill landed
before ``spec.json`` was written, the original command is run again.  The weights in ``model.npz``,
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
    "--dataset", "digits", "--hidden", "64,64", "--epochs", "12", "--batch-size", "16",
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


def _checkpoint_epoch(folder: Path) -> int:
    """The epoch of the folder's checkpoint, -1 while there is none (or it is being replaced)."""
    from mlplab.errors import MlplabError
    from mlplab.runs import RunDir

    try:
        return int(RunDir(folder).load_checkpoint()["trainer"]["epoch"])
    except MlplabError:
        return -1


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
    records = json.loads((full / "history.json").read_text())["records"]
    epochs = len(records)
    per_epoch = sum(r.get("seconds", 0.0) for r in records) / max(1, epochs)
    startup = max(0.1, wall - per_epoch * epochs)
    results = []
    for i in range(kills):
        out = root / f"kill{i}"
        target = -1 if rng.random() < 0.2 else rng.randrange(0, epochs)
        p = subprocess.Popen(_cli("train", *TRAIN, "--out", str(out), "--json"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        if target < 0:
            delay = rng.uniform(0.0, 1.2 * startup)
        else:
            while _checkpoint_epoch(out) < target and p.poll() is None:
                time.sleep(0.005)
            delay = rng.uniform(0.0, 1.5 * per_epoch)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
        at_epoch = _checkpoint_epoch(out)
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
        results.append({"kill": i, "target_epoch": target, "delay_s": round(delay, 3),
                        "killed": killed, "checkpoint_epoch_at_kill": at_epoch, "stage": stage,
                        "resume_exit": done.returncode, "identical": same,
                        "error": None if ok else done.stderr.strip()[-300:]})  # fmt: skip
    stages: dict[str, int] = {}
    for r in results:
        stages[r["stage"]] = stages.get(r["stage"], 0) + 1
    return {
        "command": "mlplab train " + " ".join(TRAIN),
        "kills": kills,
        "seed": seed,
        "epochs": epochs,
        "seconds_per_epoch": round(per_epoch, 3),
        "startup_seconds": round(startup, 3),
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
        at = sorted(r["checkpoint_epoch_at_kill"] for r in tally["runs"] if r["killed"])
        print(f"checkpoint epoch on disk at each kill (-1: none yet): {at}")
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
