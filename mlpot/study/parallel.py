"""A study's training runs in worker processes: ``mlpot-study CONFIG --jobs N``.

Training small molecules is bound by the number of PyTorch operations, not by
arithmetic, so on a machine with N cores N runs of one thread each finish far
sooner than the same runs one after the other with N threads each, while
several processes with several OpenMP threads each slow each other down badly.
`train_in_workers` therefore starts N worker processes ('spawn' context, with
``OMP_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1`` in their environment and
``torch.set_num_threads(1)``) and gives each one run at a time.

Each run is the same `mlpot.study.runs.train_run` call as with one process: its
seed fixes its split, initialisation and shuffles, so its checkpoints do not
depend on the number of workers, and finished runs are reused and interrupted
ones resumed as before. On an interrupt (Ctrl-C, or an error in one run) the
main process stops every worker at once, each leaving its run resumable from
its last completed epoch.
"""

import _thread
import multiprocessing
import os
import signal
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional

from mlpot.study.config import StudyConfig
from mlpot.study.runs import (
    LOGGER,
    PlannedRun,
    RunOutcome,
    is_finished,
    run_numbers,
    train_run,
)

# Set to 1 in the environment the workers start with, before they load torch.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
# How long stopped workers get to leave their runs before they are terminated.
STOP_TIMEOUT_S = 120.0


class RunFailed(RuntimeError):
    """A training run failed in a worker process.

    Attributes
    ----------
    run : PlannedRun
        The run.
    error : BaseException
        The worker's exception (its ``__cause__`` holds the worker's traceback).
    """

    def __init__(self, run: PlannedRun, error: BaseException):
        super().__init__(
            f"training run {run.molecule}/{run.name} failed: "
            f"{type(error).__name__}: {error}"
        )
        self.run = run
        self.error = error


def train_in_workers(
    study: StudyConfig,
    runs: List[PlannedRun],
    output,
    jobs: int,
    plan: Optional[List[PlannedRun]] = None,
    finished: Optional[Callable[[PlannedRun], None]] = None,
) -> None:
    """Train ``runs`` (unless finished) in ``jobs`` worker processes.

    Logs one line per run as it starts (``[3/12] ethanol/invariant-n10-seed0``,
    numbered by its place in ``plan``, default ``runs``) and one as it ends
    (`RunOutcome.message`), and then calls ``finished(run)`` in this process.

    Raises
    ------
    RunFailed
        A run raised an error; the other runs were stopped (they resume when
        the study is run again).
    KeyboardInterrupt
        Interrupted; the workers were stopped, every run is resumable.
    """
    plan = runs if plan is None else plan
    numbers = run_numbers(plan)
    todo = deque()
    for run in runs:
        number = numbers[run.molecule, run.name]
        if is_finished(run.directory(output)):
            LOGGER.info(
                "[%d/%d] %s/%s: finished earlier",
                number,
                len(plan),
                run.molecule,
                run.name,
            )
        else:
            todo.append((number, run))
    if not todo:
        return
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    with _one_thread_environment():
        pool = ProcessPoolExecutor(
            max_workers=min(jobs, len(todo)),
            mp_context=context,
            initializer=_start_worker,
            initargs=(stop,),
        )
        running: Dict[Future, PlannedRun] = {}
        try:
            while todo or running:
                while todo and len(running) < jobs:
                    number, run = todo.popleft()
                    LOGGER.info(
                        "[%d/%d] %s/%s", number, len(plan), run.molecule, run.name
                    )
                    with _sigint_ignored():  # workers start with Ctrl-C ignored
                        future = pool.submit(_train_in_worker, study, run, output)
                    running[future] = run
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = _outcome(future, running.pop(future))
                    LOGGER.info("%s", outcome.message())
                    if finished is not None:
                        finished(outcome.run)
        except BaseException:
            _stop(pool, stop, running)
            raise
        pool.shutdown(wait=True)


def _outcome(future: Future, run: PlannedRun) -> RunOutcome:
    """The outcome of a finished future; raises for an error or an interrupt."""
    try:
        outcome = future.result()
    except KeyboardInterrupt:
        raise KeyboardInterrupt from None
    except Exception as error:  # also BrokenProcessPool: a worker was killed
        raise RunFailed(run, error) from error
    if outcome is None:  # the worker was interrupted
        raise KeyboardInterrupt
    return outcome


def _stop(pool: ProcessPoolExecutor, stop, running: Dict[Future, PlannedRun]) -> None:
    """Interrupt the workers' runs, wait for them to leave, and shut the pool."""
    stop.set()
    try:
        _, stuck = wait(running, timeout=STOP_TIMEOUT_S)
    except KeyboardInterrupt:  # interrupted again: do not wait
        stuck = True
    if stuck:
        # Files of a run are replaced atomically, so ending a worker anywhere
        # leaves its run resumable from its last completed epoch.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=not stuck, cancel_futures=True)


@contextmanager
def _one_thread_environment() -> Iterator[None]:
    """``OMP_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1`` while workers are started."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: "1" for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT meanwhile (only in the main thread, where handlers are set).

    Processes started meanwhile inherit the disposition, so a Ctrl-C cannot
    kill a worker while it starts; `_train_in_worker` takes it back for a run.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# In a worker: set by the main process to stop the worker's run.
_STOP: Optional[object] = None


def _start_worker(stop) -> None:
    """Initialise a worker process: one torch thread, Ctrl-C only during a run."""
    import torch

    global _STOP
    _STOP = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    threading.Thread(target=_interrupt_when_set, args=(stop,), daemon=True).start()


def _interrupt_when_set(stop) -> None:
    """Raise KeyboardInterrupt in the worker's run once ``stop`` is set.

    Does nothing while no run is going (SIGINT is then ignored); a run that
    starts later sees ``stop`` set and does not start.
    """
    stop.wait()
    _thread.interrupt_main(signal.SIGINT)


def _train_in_worker(
    study: StudyConfig, run: PlannedRun, output
) -> Optional[RunOutcome]:
    """Train one run in a worker; None when interrupted (the run stays resumable)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if _STOP is not None and _STOP.is_set():
            return None
        return train_run(study, run, output)
    except KeyboardInterrupt:
        return None
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
