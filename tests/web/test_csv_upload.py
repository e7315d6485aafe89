"""Uploaded CSV files: huge values are scaled robustly or refused with a reason, a refused file
leaves the session as it was, and no CSV content ends in a traceback or an unsendable state."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlplab.errors import DataError, MlplabError
from mlplab.web.data import scale_to_box
from mlplab.web.schemas import PlaygroundConfig
from mlplab.web.sessions import Session


@pytest.fixture
def session():
    return Session(PlaygroundConfig(n_samples=100, hidden=[4], activations=["tanh"]))


def sendable(obj) -> None:
    json.dumps(obj, allow_nan=False)


def test_features_near_the_float_limit_are_scaled_not_collapsed(session):
    rows = [f"{(i - 10) * 1.6e307},{i},{i % 2}" for i in range(21)]
    st_ = session.upload_csv("big.csv", "a,b,label\n" + "\n".join(rows))
    sendable(st_)
    x = np.array(st_["train"]["x"] + st_["test"]["x"])
    assert np.isclose(x[:, 0].min(), -5, atol=1e-3) and np.isclose(x[:, 0].max(), 5, atol=1e-3)
    assert len(np.unique(np.round(x[:, 0], 3))) == 21  # every row keeps its own place
    for msg in (session.advance(2), session.state(), session.probe(0.0, 0.0)):
        sendable(msg)


def test_a_target_near_the_float_limit_is_refused_and_the_session_is_unchanged(session):
    before = session.state()
    rows = [f"{i},{2 * i},{(i - 50) * 1.7e306}" for i in range(100)]
    with pytest.raises(DataError, match=r"label column 'label' has values up to .*1e\+15"):
        session.upload_csv("huge.csv", "a,b,label\n" + "\n".join(rows))
    after = session.state()
    assert after["config"] == before["config"] and after["train"] == before["train"]
    sendable(session.advance(1))


def test_scale_to_box_is_unchanged_for_ordinary_values_and_finite_for_extreme_ones():
    X = np.array([[1.0, 5.0], [3.0, 5.0], [2.0, 5.0]])
    assert scale_to_box(X, X).tolist() == [[-5.0, 0.0], [5.0, 0.0], [0.0, 0.0]]
    big = np.array([[-1.79e308], [1.79e308], [0.0]])
    assert np.allclose(scale_to_box(big, big)[:, 0], [-5, 5, 0])


cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.sampled_from(["", "a", "b", "1e309", "-0", " 3 ", "nan", "\u00e9", '"', ","]),
    st.text(max_size=5),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    header=st.lists(st.sampled_from(["a", "b", "label", "y", "x", ""]), min_size=0, max_size=4),
    rows=st.lists(st.lists(cells, min_size=0, max_size=4), min_size=0, max_size=40),
)
def test_random_csv_uploads_give_a_state_or_a_reason(session, header, rows):
    text = ",".join(header) + "\n" + "\n".join(",".join(str(c) for c in r) for r in rows)
    before = session.config
    try:
        out = session.upload_csv("fuzz.csv", text)
    except MlplabError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        assert session.config == before
    else:
        sendable(out)
        sendable(session.advance(1))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    table=st.lists(
        st.tuples(
            st.floats(allow_nan=False, allow_infinity=False),
            st.floats(allow_nan=False, allow_infinity=False),
            st.one_of(st.integers(0, 2), st.floats(allow_nan=False, allow_infinity=False)),
        ),
        min_size=10,
        max_size=60,
    )
)
def test_random_numeric_tables_train_and_stay_sendable(session, table):
    text = "a,b,label\n" + "\n".join(f"{a!r},{b!r},{y!r}" for a, b, y in table)
    try:
        out = session.upload_csv("num.csv", text)
    except MlplabError as exc:
        assert str(exc)
        return
    sendable(out)
    x = np.array(out["train"]["x"] + out["test"]["x"])
    assert np.all(np.abs(x) <= 5.0 + 1e-6)
    sendable(session.advance(1))
    sendable(session.state())
