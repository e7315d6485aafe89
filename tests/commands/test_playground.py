"""``mlplab playground``: argument checks that fail before anything is served."""

from __future__ import annotations

import socket

import pytest

from mlplab.cli import main
from mlplab.commands.playground import _is_loopback


def test_bad_port_is_one_line_and_exit_2(capsys):
    assert main(["playground", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--port" in err and "[1, 65535]" in err


def test_port_in_use(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["playground", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "another port" in err


@pytest.mark.parametrize(
    "host,loop",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_loopback_detection(host, loop):
    assert _is_loopback(host) is loop
