"""mlplab: a laboratory for neural networks, from the perceptron to the multi-layer perceptron."""

__version__ = "0.1.0"
