"""The playground's message protocol: every message a page may send, validated by pydantic.

A page talks to the server over one WebSocket (``/ws``).  Every frame it sends is one JSON
object with a ``type`` field; :func:`parse_client_message` turns the text into one of the
models below or raises :class:`ProtocolError` with a one-line reason that names the field.
Nothing a client sends reaches the engine without passing through here.

Client → server
---------------
==============  =====================================================================
type            fields
==============  =====================================================================
config          ``config``: a :class:`PlaygroundConfig` (the whole state of the page)
play / pause    —
step            ``epochs`` (1 … 100)
reset           —
set_weight      ``layer`` (dense layer, 0-based), ``row`` (unit it feeds), ``col``
                (unit it comes from, −1 = the bias), ``value`` (finite, |v| ≤ 100)
probe           ``x``, ``y``: a point of the map; the server picks the nearest data point
upload_csv      ``name``, ``text`` (UTF-8 CSV, at most :data:`MAX_CSV_BYTES`)
import_model    ``name``, ``data`` (base64 of an mlplab model file, ≤ :data:`MAX_MODEL_BYTES`)
export          ``format``: ``"model"`` (mlplab model file) or ``"json"``
ping            —
==============  =====================================================================

Server → client: ``hello``, ``state``, ``frame``, ``probe``, ``export``, ``notice``,
``error``, ``pong`` (see :mod:`mlplab.web.sessions` and :mod:`mlplab.web.server`).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from mlplab.core.activations import ACTIVATIONS
from mlplab.core.init import init_names
from mlplab.core.losses import HEADS
from mlplab.core.optim import SCHEDULES

__all__ = [
    "ProtocolError",
    "PlaygroundConfig",
    "ClientMessage",
    "parse_client_message",
    "DATASETS",
    "FEATURES",
    "OPTIMIZERS",
    "MAX_LAYERS",
    "MAX_NEURONS",
    "MAX_CSV_BYTES",
    "MAX_CSV_ROWS",
    "MAX_MODEL_BYTES",
    "MAX_SAMPLES",
    "MAX_SMALL_MESSAGE_BYTES",
    "PARSE_INLINE_BYTES",
    "limits",
    "message_limit",
]

#: Hidden layers and units per layer a network may have (TF Playground: 6 × 8).
MAX_LAYERS = 10
MAX_NEURONS = 64
#: Points a generated data set may have.
MAX_SAMPLES = 2000
#: Size and rows of an uploaded CSV file.
MAX_CSV_BYTES = 1_000_000
MAX_CSV_ROWS = 5000
#: Size of an imported model file (before base64).
MAX_MODEL_BYTES = 2_000_000
#: Longest message of any other type (a config is well under 2 kB).
MAX_SMALL_MESSAGE_BYTES = 64_000
#: Messages longer than this are parsed in a worker thread, not on the event loop.
PARSE_INLINE_BYTES = 16_000
#: Epochs one ``step`` message may ask for, and ``speed`` (epochs per drawn frame).
MAX_STEP_EPOCHS = 100
MAX_SPEED = 50

#: Data sets of the playground: the built-in 2-D (and one 1-D) sets of :mod:`mlplab.data`,
#: plus ``csv`` (an uploaded file).
DATASETS = [
    "circle",
    "xor",
    "gauss",
    "spiral",
    "moons",
    "blobs",
    "spiral3",
    "plane",
    "gauss_bump",
    "sin",
    "csv",
]
#: Input features computed from the raw coordinates (x1, x2).
FEATURES = ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"]
#: Optimizer names as ``mlplab train --optimizer`` takes them (momentum = SGD, μ = 0.9).
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw"]
HEAD_CHOICES = ["auto", *HEADS]


class ProtocolError(ValueError):
    """A message the server refuses; ``str(exc)`` is the one-line reason sent back."""

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.code = code


class _Strict(BaseModel):
    # strict: no coercion, so "7" or true is not an integer and 1 is not a boolean
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class PlaygroundConfig(_Strict):
    """The whole state of a page: data, inputs, network, training and view options.

    The page keeps it in its URL, so a link rebuilds the same data, the same initial weights
    (both seeded by ``seed``) and the same training run.
    """

    mode: Literal["mlp", "perceptron"] = "mlp"
    # data
    dataset: str = "circle"
    n_samples: int = Field(500, ge=50, le=MAX_SAMPLES)
    noise: float = Field(0.0, ge=0.0, le=0.5)
    train_ratio: float = Field(0.5, ge=0.1, le=0.9)
    n_classes: int = Field(3, ge=3, le=6)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    # inputs
    features: list[str] = Field(default_factory=lambda: ["x1", "x2"], min_length=1, max_length=7)
    # network
    hidden: list[int] = Field(default_factory=lambda: [4, 2], max_length=MAX_LAYERS)
    activations: list[str] = Field(default_factory=lambda: ["tanh", "tanh"], max_length=MAX_LAYERS)
    head: str = "auto"
    init: str = "auto"
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    norm: Literal["none", "batch", "layer"] = "none"
    # training
    optimizer: str = "sgd"
    lr: float = Field(0.03, gt=0.0, le=10.0)
    schedule: str = "constant"
    epochs: int = Field(1000, ge=1, le=100_000)
    batch_size: int = Field(10, ge=1, le=MAX_SAMPLES)
    l1: float = Field(0.0, ge=0.0, le=1.0)
    l2: float = Field(0.0, ge=0.0, le=1.0)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    # view
    speed: int = Field(1, ge=1, le=MAX_SPEED)
    discretize: bool = False
    show_test: bool = False

    @model_validator(mode="after")
    def _check(self):
        _choice("dataset", self.dataset, DATASETS)
        for i, f in enumerate(self.features):
            _choice(f"features[{i}]", f, FEATURES)
        if len(set(self.features)) != len(self.features):
            raise ValueError("features lists a feature twice")
        for i, units in enumerate(self.hidden):
            if not 1 <= units <= MAX_NEURONS:
                raise ValueError(f"hidden[{i}] must be in [1, {MAX_NEURONS}]; got {units}")
        if len(self.activations) != len(self.hidden):
            raise ValueError(
                f"activations must give one activation per hidden layer ({len(self.hidden)}); "
                f"got {len(self.activations)}"
            )
        for i, a in enumerate(self.activations):
            _choice(f"activations[{i}]", a, list(ACTIVATIONS))
        _choice("head", self.head, HEAD_CHOICES)
        _choice("init", self.init, init_names())
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        if self.norm == "batch" and self.batch_size < 2 and self.mode == "mlp":
            raise ValueError("batch_size must be at least 2 with norm 'batch' (batch statistics)")
        return self


def _choice(field: str, value: str, choices: list[str]) -> None:
    if value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(choices)}; got {value!r}")


class ConfigMsg(_Strict):
    """Move the session to a new configuration."""

    type: Literal["config"]
    config: PlaygroundConfig


class PlayMsg(_Strict):
    """Start training continuously."""

    type: Literal["play"]


class PauseMsg(_Strict):
    """Stop training continuously."""

    type: Literal["pause"]


class StepMsg(_Strict):
    """Train ``epochs`` epochs and send one frame."""

    type: Literal["step"]
    epochs: int = Field(1, ge=1, le=MAX_STEP_EPOCHS)


class ResetMsg(_Strict):
    """New weights from the seed, same data."""

    type: Literal["reset"]


class SetWeightMsg(_Strict):
    """Set one weight (``col = -1``: the bias)."""

    type: Literal["set_weight"]
    layer: int = Field(ge=0, le=MAX_LAYERS)
    row: int = Field(ge=0, lt=MAX_NEURONS)
    col: int = Field(ge=-1, lt=MAX_NEURONS)
    value: float = Field(ge=-100.0, le=100.0)


class ProbeMsg(_Strict):
    """Run the backward view for the data point nearest (x, y)."""

    type: Literal["probe"]
    x: float = Field(ge=-1e6, le=1e6)
    y: float = Field(0.0, ge=-1e6, le=1e6)


class UploadCsvMsg(_Strict):
    """Switch to an uploaded CSV file."""

    type: Literal["upload_csv"]
    name: str = Field("upload.csv", max_length=200)
    text: str

    @model_validator(mode="after")
    def _size(self):
        n = len(self.text.encode("utf-8", errors="surrogatepass"))
        if n > MAX_CSV_BYTES:
            raise ValueError(
                f"the CSV file is {n / 1e6:.2f} MB; the limit is {MAX_CSV_BYTES / 1e6:.1f} MB"
            )
        return self


class ImportModelMsg(_Strict):
    """Load an mlplab model file (base64)."""

    type: Literal["import_model"]
    name: str = Field("model.npz", max_length=200)
    data: str

    def raw_bytes(self) -> bytes:
        """The decoded file (validated on construction)."""
        return base64.b64decode(self.data, validate=True)

    @model_validator(mode="after")
    def _decode(self):
        if len(self.data) > 4 * (MAX_MODEL_BYTES // 3 + 1):
            raise ValueError(
                f"the model file is larger than the limit of {MAX_MODEL_BYTES / 1e6:.1f} MB"
            )
        try:
            base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data must be the file's bytes in base64") from None
        return self


class ExportMsg(_Strict):
    """Ask for the network as a model file or JSON."""

    type: Literal["export"]
    format: Literal["model", "json"] = "model"


class PingMsg(_Strict):
    """Keep the session alive; answered with ``pong``."""

    type: Literal["ping"]


ClientMessage = Annotated[
    ConfigMsg
    | PlayMsg
    | PauseMsg
    | StepMsg
    | ResetMsg
    | SetWeightMsg
    | ProbeMsg
    | UploadCsvMsg
    | ImportModelMsg
    | ExportMsg
    | PingMsg,
    Field(discriminator="type"),
]
_ADAPTER = TypeAdapter(ClientMessage)
MESSAGE_TYPES = [
    "config",
    "play",
    "pause",
    "step",
    "reset",
    "set_weight",
    "probe",
    "upload_csv",
    "import_model",
    "export",
    "ping",
]


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def parse_client_message(text, *, max_bytes: int) -> BaseModel:
    """Validate one WebSocket text frame; return the message model or raise ProtocolError.

    Parameters
    ----------
    text : str
        The frame as received.
    max_bytes : int
        Frames longer than this are refused before parsing.
    """
    if not isinstance(text, str):
        raise ProtocolError("messages must be JSON text frames, not binary", code="malformed")
    if len(text) > max_bytes:
        raise ProtocolError(
            f"message is {len(text)} bytes; the limit is {max_bytes}", code="too_large"
        )
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed JSON: {exc}", code="malformed") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a message must be a JSON object with a 'type'", code="malformed")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        raise ProtocolError(
            f"unknown message type {kind!r}; valid types: {', '.join(MESSAGE_TYPES)}",
            code="unknown_type",
        )
    if len(text) > message_limit(kind):
        raise ProtocolError(
            f"a {kind} message is {len(text)} bytes; the limit for {kind} is {message_limit(kind)}",
            code="too_large",
        )
    try:
        return _ADAPTER.validate_python(obj)
    except ValidationError as exc:
        raise ProtocolError(_describe(exc), code="invalid") from None


def message_limit(kind: str) -> int:
    """Longest text frame accepted for a message of type ``kind`` (JSON escaping can double a
    CSV's size; base64 makes a model file 4/3 as long)."""
    if kind == "upload_csv":
        return 2 * MAX_CSV_BYTES + 1000
    if kind == "import_model":
        return 4 * (MAX_MODEL_BYTES // 3 + 1) + 1000
    return MAX_SMALL_MESSAGE_BYTES


def _describe(exc: ValidationError) -> str:
    """One line naming each bad field (at most three)."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"][1:]) or "message"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def limits() -> dict:
    """The limits a page should know (sent in ``hello``)."""
    return {
        "max_layers": MAX_LAYERS,
        "max_neurons": MAX_NEURONS,
        "max_samples": MAX_SAMPLES,
        "max_csv_bytes": MAX_CSV_BYTES,
        "max_csv_rows": MAX_CSV_ROWS,
        "max_model_bytes": MAX_MODEL_BYTES,
        "max_step_epochs": MAX_STEP_EPOCHS,
        "max_speed": MAX_SPEED,
    }
