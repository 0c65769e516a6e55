"""How many threads a force call uses: the one place that decides it.

On a CPU, a force call on a small molecule is bound by the number of
operations (a few hundred small kernels), not by arithmetic, so a second
OpenMP thread gains little when the machine is idle; when another process
keeps the other cores busy, OpenMP threads that spin-wait for each other
make the call 5–30 times slower. Calls on structures with fewer than
``SMALL_SYSTEM_ATOMS`` atoms therefore run on one intra-op thread, set for
the call and restored after it; larger structures use the process's own
setting (``torch.set_num_threads``, ``OMP_NUM_THREADS``). ``import mlpot``
also asks OpenMP, when torch is not loaded yet and the user has not chosen,
to sleep rather than spin while it waits (``OMP_WAIT_POLICY=PASSIVE``, see
:func:`prefer_passive_wait`), which keeps multi-threaded calls steady beside a
busy process.
"""

import os
import sys
from contextlib import contextmanager

SMALL_SYSTEM_ATOMS = 100


def prefer_passive_wait() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless set already or torch is loaded.

    OpenMP reads the variable once, when torch loads it, so this acts only
    before the first ``import torch``; a value the user has set is kept.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def threads_for(n_atoms: int, policy="auto") -> int:
    """Intra-op threads for a force call on ``n_atoms`` atoms.

    Parameters
    ----------
    n_atoms : int
        Atoms in the call (all structures of a batch together).
    policy : "auto", int or None
        ``"auto"``: one thread below ``SMALL_SYSTEM_ATOMS`` atoms, else the
        process's setting; an int: that many; None: the process's setting.
    """
    import torch

    if policy is None:
        return torch.get_num_threads()
    if policy == "auto":
        return 1 if n_atoms < SMALL_SYSTEM_ATOMS else torch.get_num_threads()
    if isinstance(policy, bool) or not isinstance(policy, int) or policy < 1:
        raise ValueError(
            f"num_threads must be 'auto', None or a positive int, got {policy!r}"
        )
    return policy


@contextmanager
def intra_op_threads(n: int):
    """Run the block with ``n`` intra-op threads; restore the setting after it."""
    import torch

    previous = torch.get_num_threads()
    if n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
