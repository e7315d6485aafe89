"""Decision-boundary figures of the perceptron and the XOR networks."""

import numpy as np
import pytest

from mlplab.errors import ConfigError
from mlplab.perceptron import Perceptron
from mlplab.perceptron_plots import (
    perceptron_figure,
    perceptron_gallery,
    save_figure,
    xor_network_figure,
)
from mlplab.xor import hand_built_xor, train_xor


def test_gallery_has_four_panels_and_saves_png(tmp_path):
    fig = perceptron_gallery(epochs=20)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4
    assert titles[0].startswith("AND") and titles[2].startswith("XOR")
    assert "cycles" in titles[2] and "converged" in titles[0]
    path = save_figure(fig, tmp_path / "gallery.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_xor_figure_shows_hidden_view(tmp_path):
    _, nets = train_xor("tanh", 3, [1], epochs=50, return_networks=True)
    fig = xor_network_figure([("hand-built", hand_built_xor()), ("tanh H=3", nets[0])])
    assert len(fig.axes) == 4
    assert fig.axes[1].get_xlabel() == "h1" and fig.axes[3].get_xlabel() == "PC1 of h"
    save_figure(fig, tmp_path / "xor.svg")
    assert (tmp_path / "xor.svg").read_text().lstrip().startswith("<?xml")


def test_plot_errors(tmp_path):
    X = np.random.default_rng(0).normal(size=(10, 3))
    y = (X[:, 0] > 0).astype(int)
    model = Perceptron(epochs=5, compute_bound=False).fit(X, y)
    with pytest.raises(ConfigError, match="2 input features"):
        perceptron_figure([("3-d", model, X, y)])
    with pytest.raises(ConfigError, match="must end in"):
        save_figure(perceptron_gallery(epochs=2), tmp_path / "x.gif")
