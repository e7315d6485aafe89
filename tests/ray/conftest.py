"""Ray fixtures: one local Ray cluster per test session, started the way a user starts one.

Every Ray process stays on 127.0.0.1 (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) and sends no usage
report (RAY_USAGE_STATS_ENABLED=0).  The cluster runs token authentication, as Ray does by
default, with a token written for this session (RAY_AUTH_TOKEN_PATH), so nothing is written
to ~/.ray.  It is stopped by terminating its ``ray start --block`` process, which ends exactly
the processes it started (``ray stop`` would end every Ray instance on the machine, including
the local instances other tests start).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# Before Ray is imported anywhere in this process: Ray reads the first variable once, at import,
# and a driver that imported Ray without it resolves 127.0.0.1 to the machine's own address.
RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "token",
}
os.environ.update(RAY_ENV)
_TOKEN_DIR = Path(tempfile.mkdtemp(prefix="mlr-tok"))
(_TOKEN_DIR / "auth_token").write_text(secrets.token_hex(32))
os.environ["RAY_AUTH_TOKEN_PATH"] = str(_TOKEN_DIR / "auth_token")
atexit.register(shutil.rmtree, _TOKEN_DIR, ignore_errors=True)

pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_token():
    """The session's token file (RAY_AUTH_TOKEN_PATH; removed when the process exits)."""
    return Path(os.environ["RAY_AUTH_TOKEN_PATH"])


@pytest.fixture(scope="session")
def ray_cluster(ray_token):
    """``ray start --head --num-cpus 2`` on a free port; yields its ``HOST:PORT`` address."""
    # a short folder: Ray's Unix sockets live under it and their paths are length-limited
    temp = Path(tempfile.mkdtemp(prefix="mlr", dir="/tmp"))
    ray_bin = Path(sys.executable).with_name("ray")
    cmd = [
        str(ray_bin), "start", "--head", "--block", "--port", "0", "--num-cpus", "2",
        "--include-dashboard=false", "--temp-dir", str(temp),
    ]  # fmt: skip
    log = open(temp / "start.log", "w")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    marker = temp / "ray_current_cluster"
    deadline = time.monotonic() + 90
    while not (marker.is_file() and marker.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ray start failed: {(temp / 'start.log').read_text()[-2000:]}")
        time.sleep(0.2)
    address = marker.read_text().strip().splitlines()[0]
    yield address
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def cluster_driver(ray_cluster):
    """The address of the session's cluster, for a driver that joins it."""
    return ray_cluster
