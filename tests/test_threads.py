"""The thread policy of force calls: one thread for small systems, restored after."""

import pytest
import torch
from ase.build import molecule
from conftest import make_model

from mlpot import calculator as calculator_module
from mlpot.calculator import MLPotCalculator
from mlpot.threads import SMALL_SYSTEM_ATOMS, intra_op_threads, threads_for


@pytest.fixture
def threads_seen(monkeypatch):
    seen = []
    original = calculator_module.energy_and_forces

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(calculator_module, "energy_and_forces", recording)
    return seen


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_small_molecule_runs_on_one_thread_and_restores(threads_seen, two_threads):
    atoms = molecule("CH3CH2OH")
    atoms.calc = MLPotCalculator(make_model("invariant"))
    atoms.get_forces()
    assert threads_seen == [1]
    assert torch.get_num_threads() == 2


def test_large_system_keeps_the_process_setting(threads_seen, two_threads):
    atoms = molecule("CH3CH2OH")
    atoms.cell = [6.0, 6.0, 6.0]
    atoms = atoms.repeat((4, 4, 1))  # a free cluster of 16 molecules
    atoms.pbc, atoms.cell = False, None
    assert len(atoms) >= SMALL_SYSTEM_ATOMS
    atoms.calc = MLPotCalculator(make_model("invariant"))
    atoms.get_forces()
    assert threads_seen == [2]


def test_fixed_and_untouched_policies(threads_seen, two_threads):
    atoms = molecule("CH3CH2OH")
    atoms.calc = MLPotCalculator(make_model("invariant"), num_threads=None)
    atoms.get_forces()
    atoms.calc = MLPotCalculator(make_model("invariant"), num_threads=2)
    atoms.get_forces()
    assert threads_seen == [2, 2]


@pytest.mark.parametrize("policy", [0, -1, "many", 1.5, True])
def test_bad_thread_settings_are_refused(policy):
    with pytest.raises(ValueError, match="num_threads"):
        MLPotCalculator(make_model("invariant"), num_threads=policy)


def test_threads_are_restored_after_an_error(two_threads):
    with pytest.raises(RuntimeError):
        with intra_op_threads(1):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2
    assert threads_for(5) == 1 and threads_for(SMALL_SYSTEM_ATOMS) == 2
