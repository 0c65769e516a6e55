import argparse
import json
import sys

import numpy as np
import pytest
from ase.build import molecule
from tblite.ase import TBLite

from mlpot.cli.generate import add_generate_parser
from mlpot.data import read_store
from mlpot.data.generate import (
    BondStretchSampler,
    LangevinSampler,
    TorsionSampler,
    generate,
)
from mlpot.data.reference import reference_method
from mlpot.geometry.internal import bond_lengths, bonded_pairs, dihedral_angles
from mlpot.geometry.torsion import ethane_torsion_quadruples

MD = dict(temperature_K=500.0, timestep_fs=0.5, interval=3)


class InterruptedLangevin(LangevinSampler):
    """Stops the run, as Ctrl-C would, when frame ``stop`` is due."""

    def __init__(self, stop, **settings):
        super().__init__(**settings)
        self.stop = stop

    def sample(self, start, calculator, first, count, rng):
        for index, atoms in enumerate(
            super().sample(start, calculator, first, count, rng), start=first
        ):
            if index == self.stop:
                raise KeyboardInterrupt
            yield atoms


def test_langevin_frames_are_stored_with_labels_and_provenance(tmp_path):
    ethane = molecule("C2H6")
    path = tmp_path / "md.h5"
    frames = generate(
        ethane, LangevinSampler(**MD), 4, path, seed=1, chunk_size=3, progress=False
    )
    stored = read_store(path)
    assert len(frames) == len(stored) == 4
    np.testing.assert_array_equal(stored.frame_ids, np.arange(4))
    np.testing.assert_array_equal(stored.numbers[:8], ethane.numbers)
    assert stored.attrs["level_of_theory"] == "GFN2-xTB"
    assert stored.attrs["method"].startswith("GFN2-xTB (tblite ")
    assert stored.attrs["source_energy_unit"] == "eV"
    assert stored.attrs["seed"] == 1 and stored.attrs["chunk_size"] == 3
    assert json.loads(stored.attrs["sampler"]) == LangevinSampler(**MD).settings()
    # The labels belong to the stored positions (not to a neighbouring step).
    for k in range(4):
        atoms = stored.to_atoms(k)
        atoms.calc = TBLite(method="GFN2-xTB", accuracy=0.01, verbosity=0)
        assert atoms.get_potential_energy() == pytest.approx(stored.energy[k], abs=1e-7)
        np.testing.assert_allclose(
            atoms.get_forces(), stored.forces[stored.atom_slice(k)], atol=1e-6
        )
    positions = stored.positions.reshape(4, 8, 3)
    assert np.abs(np.diff(positions, axis=0)).max() > 0.01  # the frames move
    pairs = bonded_pairs(ethane)
    stretch = bond_lengths(positions, pairs) / bond_lengths(ethane, pairs)
    assert 0.8 < stretch.min() and stretch.max() < 1.2


def test_resumed_run_gives_the_frames_of_an_uninterrupted_one(tmp_path):
    ethane = molecule("C2H6")
    settings = dict(seed=7, chunk_size=2, progress=False)
    whole = generate(
        ethane, LangevinSampler(**MD), 5, tmp_path / "whole.h5", **settings
    )

    parts = tmp_path / "parts.h5"
    with pytest.raises(KeyboardInterrupt):
        generate(ethane, InterruptedLangevin(stop=3, **MD), 5, parts, **settings)
    assert len(read_store(parts)) == 2  # the first full chunk was kept
    generate(ethane, LangevinSampler(**MD), 3, parts, **settings)  # ends mid-chunk
    resumed = generate(ethane, LangevinSampler(**MD), 5, parts, **settings)

    np.testing.assert_array_equal(resumed.frame_ids, np.arange(5))
    np.testing.assert_array_equal(resumed.positions, whole.positions)
    np.testing.assert_array_equal(resumed.energy, whole.energy)
    np.testing.assert_array_equal(resumed.forces, whole.forces)
    other_seed = generate(
        ethane,
        LangevinSampler(**MD),
        2,
        tmp_path / "other.h5",
        seed=8,
        chunk_size=2,
        progress=False,
    )
    assert not np.allclose(other_seed.positions, whole.positions[:16])


def test_resume_with_other_settings_is_refused(tmp_path):
    ethane = molecule("C2H6")
    path = tmp_path / "md.h5"
    generate(ethane, LangevinSampler(**MD), 2, path, seed=1, progress=False)
    with pytest.raises(ValueError, match="seed=1"):
        generate(ethane, LangevinSampler(**MD), 4, path, seed=2, progress=False)
    with pytest.raises(ValueError, match="temperature_K"):
        generate(
            ethane,
            LangevinSampler(temperature_K=300.0),
            4,
            path,
            seed=1,
            progress=False,
        )


def test_torsion_sampler_covers_the_requested_angles(tmp_path):
    ethane = molecule("C2H6")
    quadruple = ethane_torsion_quadruples(ethane)[0]

    rigid = generate(
        ethane,
        TorsionSampler(quadruple, n_angles=4, mode="perturb", rattle=0.0),
        4,
        tmp_path / "rigid.h5",
        progress=False,
    )
    dihedrals = dihedral_angles(rigid.positions.reshape(4, 8, 3), [quadruple])[:, 0]
    np.testing.assert_allclose(dihedrals, [0.0, 90.0, 180.0, 270.0], atol=1e-6)

    relaxed = generate(
        ethane,
        TorsionSampler(quadruple, angles=[0.0, 120.0, 240.0, 60.0], rattle=0.0),
        4,
        tmp_path / "relaxed.h5",
        progress=False,
    )
    dihedrals = dihedral_angles(relaxed.positions.reshape(4, 8, 3), [quadruple])[:, 0]
    np.testing.assert_allclose(dihedrals % 360.0, [0.0, 120.0, 240.0, 60.0], atol=1e-4)
    eclipsed, staggered = relaxed.energy[:3], relaxed.energy[3]
    assert np.ptp(eclipsed) < 1e-4
    assert 0.10 < eclipsed.mean() - staggered < 0.12  # 2.6 kcal/mol in eV

    rattled = generate(
        ethane,
        TorsionSampler(quadruple, n_angles=4, mode="perturb"),
        4,
        tmp_path / "rattled.h5",
        progress=False,
    )
    assert 0.005 < np.abs(rattled.positions - rigid.positions).mean() < 0.05


def test_stretch_sampler_moves_the_far_side_of_the_bond_rigidly(tmp_path):
    ethanol = molecule("CH3CH2OH")
    carbon_oxygen = (1, 2)  # ase's ethanol: 1 is the CH2 carbon, 2 the O
    stretched = generate(
        ethanol,
        BondStretchSampler(carbon_oxygen, factors=[1.0, 1.5], rattle=0.0),
        2,
        tmp_path / "stretch.h5",
        progress=False,
    )
    images = stretched.positions.reshape(2, len(ethanol), 3)
    start = bond_lengths(ethanol.positions[None], [carbon_oxygen])[0, 0]
    lengths = bond_lengths(images, [carbon_oxygen])[:, 0]
    np.testing.assert_allclose(lengths, [start, 1.5 * start], rtol=1e-6)
    hydroxyl = [2, 3]  # the O-H bond goes with the oxygen
    np.testing.assert_allclose(
        bond_lengths(images, [hydroxyl])[:, 0],
        bond_lengths(ethanol.positions[None], [hydroxyl])[0, 0],
        rtol=1e-6,
    )
    assert stretched.energy[1] - stretched.energy[0] > 1.0  # eV: towards breaking
    with pytest.raises(ValueError, match="not bonded"):
        list(BondStretchSampler((2, 5)).sample(ethanol, None, 0, 1, None))


def test_unknown_or_missing_reference_methods_say_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="pyscf-<xc>/<basis>"):
        reference_method("b3lyp")
    monkeypatch.setitem(sys.modules, "pyscf", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install pyscf"):
        reference_method("pyscf-b3lyp/def2-svp")
    method = reference_method("gfn2-xtb")
    assert method.description.startswith("GFN2-xTB (tblite ")
    assert method.calculator() is not method.calculator()


def test_generate_command_writes_and_resumes_a_store(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="mlpot-data")
    add_generate_parser(parser.add_subparsers(required=True))
    path = tmp_path / "torsion.h5"
    for frames in (2, 3):
        args = parser.parse_args(
            [
                "generate",
                str(path),
                "--sampler",
                "torsion",
                "--angles",
                "6",
                "--mode",
                "perturb",
                "--frames",
                str(frames),
                "--seed",
                "3",
                "--no-progress",
            ]
        )
        args.run(args)
    assert f"{path}: 3 frames, GFN2-xTB (tblite" in capsys.readouterr().out
    stored = read_store(path)
    assert json.loads(stored.attrs["sampler"])["dihedral"] == [2, 0, 1, 5]
    args = parser.parse_args(
        [
            "generate",
            str(tmp_path / "x.h5"),
            "--molecule",
            "CH3CH2OH",
            "--sampler",
            "torsion",
            "--frames",
            "1",
        ]
    )
    with pytest.raises(ValueError, match="--bond B C"):
        args.run(args)
