"""Load test of the playground server: many pages training at once, on loopback only.

Starts ``mlplab playground`` on 127.0.0.1 (a free port) as a child process, opens
``--sessions`` WebSocket clients at once and lets each train for ``--seconds``: every client
sends its own configuration (data sets and layer sizes rotate), then asks for one epoch at a
time (``{"type": "step"}``) and waits for the frame.  Measured:

* step latency — from sending ``step`` to receiving its frame (queueing in the server's
  thread pool included), percentiles p50 / p95 / p99 over all steps of all clients;
* errors — any ``error`` message, refused connection or dropped socket;
* server memory — the child's resident set size (``VmRSS`` of ``/proc/<pid>/status``) sampled
  every 0.25 s: at start (idle), peak, and after all clients left;
* that every session is freed when its page leaves (``/api/health`` sessions back to 0).

The run is bounded: at most 200 sessions and 600 seconds; nothing leaves 127.0.0.1.

Usage::

    python benchmarks/playground_load.py                      # 50 sessions, 60 s
    python benchmarks/playground_load.py --sessions 20 --seconds 15
    python benchmarks/playground_load.py --json               # one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HOST = "127.0.0.1"
DATASETS = ["circle", "xor", "gauss", "spiral", "moons", "blobs", "spiral3", "plane"]
NETWORKS = [([4, 2], "tanh"), ([8, 8], "relu"), ([16, 16], "tanh"), ([8, 8, 8], "gelu")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://{HOST}:{port}/api/health", timeout=5) as r:
        return json.loads(r.read())


def client_config(i: int) -> dict:
    hidden, act = NETWORKS[i % len(NETWORKS)]
    return {
        "dataset": DATASETS[i % len(DATASETS)],
        "seed": i,
        "hidden": hidden,
        "activations": [act] * len(hidden),
        "optimizer": "adam",
        "lr": 0.01,
        "batch_size": 10,
        "n_samples": 500,
    }


async def client(i: int, port: int, deadline: float, stats: dict) -> None:
    from websockets.asyncio.client import connect

    try:
        async with connect(f"ws://{HOST}:{port}/ws", max_size=2**24) as ws:
            for _ in range(2):  # hello, state
                json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "config", "config": client_config(i)}))
            m = json.loads(await ws.recv())
            if m["type"] not in ("state", "config"):  # config: only live settings changed
                stats["errors"].append(f"client {i}: config answered {m}")
                return
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                await ws.send('{"type": "step", "epochs": 1}')
                m = json.loads(await ws.recv())
                if m["type"] != "frame":
                    stats["errors"].append(f"client {i}: {m.get('code')}: {m.get('message')}")
                    if m["type"] == "error":
                        continue
                stats["latency"].append(time.perf_counter() - t0)
                stats["epochs"][i] = m.get("epoch", 0)
                if m.get("finished"):
                    stats["errors"].append(f"client {i}: finished early ({m['finished']})")
                    return
    except Exception as exc:  # a refused or dropped connection is an error of the run
        stats["errors"].append(f"client {i}: {type(exc).__name__}: {exc}")


async def sample_memory(pid: int, until: asyncio.Event, out: list) -> None:
    while not until.is_set():
        v = rss_mb(pid)
        if v is not None:
            out.append(v)
        try:
            await asyncio.wait_for(until.wait(), timeout=0.25)
        except asyncio.TimeoutError:
            pass


async def run_load(port: int, pid: int, sessions: int, seconds: float) -> dict:
    stats = {"latency": [], "errors": [], "epochs": {}}
    rss: list[float] = []
    done = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(pid, done, rss))
    t0 = time.monotonic()
    deadline = t0 + seconds
    await asyncio.gather(*(client(i, port, deadline, stats) for i in range(sessions)))
    wall = time.monotonic() - t0
    done.set()
    await sampler
    return {"stats": stats, "rss": rss, "wall": wall}


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else (values[0] if values else float("nan"))
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=50, help="concurrent pages (1-200)")
    ap.add_argument("--seconds", type=float, default=60.0, help="training time (1-600 s)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 200:
        ap.error("--sessions must be in [1, 200]")
    if not 1 <= args.seconds <= 600:
        ap.error("--seconds must be in [1, 600]")

    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlplab",
        "playground",
        "--host",
        HOST,
        "--port",
        str(port),
        "--max-sessions",
        str(args.sessions + 5),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health(port)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start: {server.stderr.read()}") from None
                time.sleep(0.2)
        rss_idle = rss_mb(server.pid)
        result = asyncio.run(run_load(port, server.pid, args.sessions, args.seconds))
        time.sleep(1.0)
        after = health(port)
        rss_after = rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    lat = sorted(result["stats"]["latency"])
    epochs = result["stats"]["epochs"]
    summary = {
        "sessions": args.sessions,
        "seconds": args.seconds,
        "wall_s": round(result["wall"], 2),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "steps": len(lat),
        "steps_per_s": round(len(lat) / result["wall"], 1),
        "sessions_that_trained": sum(1 for e in epochs.values() if e > 0),
        "epochs_per_session_median": statistics.median(epochs.values()) if epochs else 0,
        "latency_ms": {
            "p50": round(1000 * percentile(lat, 50), 1),
            "p95": round(1000 * percentile(lat, 95), 1),
            "p99": round(1000 * percentile(lat, 99), 1),
            "max": round(1000 * lat[-1], 1) if lat else None,
        },
        "errors": len(result["stats"]["errors"]),
        "error_examples": result["stats"]["errors"][:5],
        "server_rss_mb": {
            "idle": rss_idle and round(rss_idle, 1),
            "peak": round(max(result["rss"]), 1) if result["rss"] else None,
            "after": rss_after and round(rss_after, 1),
        },
        "sessions_left_after": after["sessions"],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        lm, mem = summary["latency_ms"], summary["server_rss_mb"]
        print(f"playground load: {args.sessions} sessions x {args.seconds:g} s on {HOST}")
        print(
            f"  steps          {summary['steps']} ({summary['steps_per_s']}/s), "
            f"{summary['sessions_that_trained']} sessions trained, median "
            f"{summary['epochs_per_session_median']} epochs each"
        )
        print(
            f"  step latency   p50 {lm['p50']} ms  p95 {lm['p95']} ms  p99 {lm['p99']} ms  "
            f"max {lm['max']} ms"
        )
        print(
            f"  server RSS     idle {mem['idle']} MB  peak {mem['peak']} MB  "
            f"after {mem['after']} MB"
        )
        print(f"  errors         {summary['errors']}  {summary['error_examples']}")
        print(
            f"  sessions left  {summary['sessions_left_after']}  "
            f"(cpus {summary['cpus']}, load {summary['load_avg_1m']})"
        )
    ok = summary["errors"] == 0 and summary["sessions_left_after"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
