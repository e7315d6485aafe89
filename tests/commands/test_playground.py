"""``mlplab playground``: argument checks that fail before anything is served."""

from __future__ import annotations

import socket

import pytest

from mlplab.cli import main
from mlplab.commands.playground import page_url, settings_for
from mlplab.web.access import is_loopback


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
    assert is_loopback(host) is loop


@pytest.mark.parametrize("host", ["not a host!", "300.1.2.3", "", "-bad", "a..b", "::zz", "1.2.3"])
def test_bad_host_is_one_line_naming_host_not_port(capsys, host):
    assert main(["playground", f"--host={host}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--host" in err and "--port" not in err


def test_settings_for_a_bind_need_no_traffic():
    loop = settings_for("127.0.0.1", [], 4)
    assert loop.token is None and "localhost" in loop.allowed_hosts
    wide = settings_for("0.0.0.0", ["lab.example"], 4)
    assert wide.token and wide.any_ip_host and "lab.example" in wide.allowed_hosts
    assert wide.access().host_ok("lab.example:8000") and not wide.access().host_ok("evil.example")
    assert page_url("10.1.2.3", 8000, "abc") == "http://10.1.2.3:8000/?token=abc"
    assert page_url("::1", 8000, None) == "http://[::1]:8000/"
