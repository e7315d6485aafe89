"""A :class:`~mlplab.experiments.runner.Executor` that runs each task as a Ray task.

``mlplab reproduce --executor ray [--address ADDR]`` uses it: every task the runner submits
(a claim today, a claim's cell once the runner splits claims finer) becomes one Ray task of
``cpus_per_task`` CPUs, on a local Ray instance or on the cluster at ``ADDR`` (see
:mod:`mlplab.cluster`).  Ray schedules them; this module only adapts the interface:
``submit(fn, *args, **kwargs)`` returns the :class:`concurrent.futures.Future` of the task's
``ObjectRef`` (``ref.future()``), so the runner's ``as_completed`` loop and its cache work
unchanged.

Fault tolerance is Ray's: a task whose worker process dies (killed, out of memory, its node
lost) is run again, up to ``max_retries`` times.  An exception raised *by* the function is not
retried (it is the task's answer; the runner records it).  Results the runner has already
written to its cache survive an interrupted ledger, which therefore resumes where it stopped.

``fn`` and its arguments must be picklable (Ray uses cloudpickle: module-level functions by
reference, so the workers must be able to import mlplab, and local functions by value).
"""

from __future__ import annotations

import concurrent.futures as cf

from mlplab.cluster import connect
from mlplab.errors import check_range
from mlplab.experiments.runner import Executor

__all__ = ["RayExecutor", "call"]


def call(fn, args, kwargs):
    """Run ``fn(*args, **kwargs)``: the body of every Ray task this executor submits."""
    return fn(*args, **kwargs)


class RayExecutor(Executor):
    """Ray tasks behind the runner's Executor interface.

    Parameters
    ----------
    address : str, optional
        None for a local Ray instance started here (and stopped by :meth:`shutdown`),
        ``"auto"`` or ``"HOST:PORT"`` for a running cluster (left running).
    num_cpus : int, optional
        CPUs of the local instance (default: all of this machine); not allowed with an address.
    cpus_per_task : float
        CPUs Ray reserves for each task (default 1; the runner caps each task's BLAS threads).
    max_retries : int
        How often a task whose worker process died is run again (default 3).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        cpus_per_task: float = 1,
        max_retries: int = 3,
    ):
        if num_cpus is not None:
            num_cpus = check_range("Ray CPUs (--jobs)", num_cpus, 1, None, integer=True)
        check_range("cpus per task", cpus_per_task, 0, None, lo_open=True)
        self.max_retries = check_range("max_retries", max_retries, 0, None, integer=True)
        self.address = address
        self._owner = connect(address, num_cpus=num_cpus)
        import ray

        self._ray = ray
        self._task = ray.remote(call).options(
            num_cpus=cpus_per_task, max_retries=self.max_retries, retry_exceptions=False
        )
        self._pending: list = []

    @property
    def cpus(self) -> int:
        """The CPUs Ray has (the cluster's, or the local instance's)."""
        return int(self._ray.cluster_resources().get("CPU", 0))

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` as a Ray task; its result or exception via the future."""
        ref = self._task.remote(fn, args, kwargs)
        self._pending.append(ref)
        return ref.future()

    def shutdown(self) -> None:
        """Cancel tasks still running and, if this executor started Ray, stop it."""
        if self._pending and self._ray.is_initialized():
            _, running = self._ray.wait(self._pending, num_returns=len(self._pending), timeout=0)
            for ref in running:
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - finished meanwhile: nothing to cancel
                    pass
        self._pending.clear()
        if self._owner and self._ray.is_initialized():
            self._ray.shutdown()
        self._owner = False
