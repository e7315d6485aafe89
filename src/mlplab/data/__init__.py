"""Data: the IDX reader and embedded MNIST, built-in data sets, and CSV files.

>>> from mlplab.data import load_dataset
>>> ds = load_dataset("xor", seed=0, noise=0.1)
>>> ds.task, ds.X_train.shape
('binary', (700, 2))
"""

from mlplab.data.csv import load_csv
from mlplab.data.datasets import DATASETS, Dataset, list_datasets, load_dataset
from mlplab.data.idx import load_mnist, read_idx

__all__ = [
    "Dataset",
    "DATASETS",
    "load_dataset",
    "list_datasets",
    "load_csv",
    "load_mnist",
    "read_idx",
]
