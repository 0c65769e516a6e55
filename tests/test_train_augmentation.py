"""Random-rotation augmentation of the training batches."""

from pathlib import Path

import pytest
import torch
from ase.build import molecule
from conftest import make_model
from test_train_loop import assert_same_run, metric_rows, tiny_run

from mlpot import keys
from mlpot.data import read_frames
from mlpot.graph import from_atoms
from mlpot.model.forces import energy_and_forces
from mlpot.train import fit, load_resume_config
from mlpot.train.batches import (
    epoch_batches,
    labelled_graphs,
    random_orthogonal_matrices,
    rotated_graph,
)

TRAIN_FILE = Path(__file__).parent / "data" / "rmd17_ethanol_train_01_subset.npz"


@pytest.fixture(scope="module")
def graphs():
    return labelled_graphs(read_frames(TRAIN_FILE), r_max=3.0)


def test_random_matrices_are_orthogonal_proper_and_improper():
    generator = torch.Generator().manual_seed(0)
    matrices = random_orthogonal_matrices(200, generator)
    identity = torch.eye(3, dtype=torch.float64).expand(200, 3, 3)
    assert torch.allclose(matrices @ matrices.transpose(1, 2), identity, atol=1e-12)
    determinants = torch.linalg.det(matrices)
    assert torch.allclose(determinants.abs(), torch.ones(200, dtype=torch.float64))
    assert 60 < int((determinants < 0).sum()) < 140
    again = random_orthogonal_matrices(200, torch.Generator().manual_seed(0))
    assert torch.equal(matrices, again)


def test_rotated_labels_are_the_forces_of_the_rotated_structure():
    # Label a structure with an equivariant model's forces; after turning it,
    # the model's forces on the new positions must equal the turned labels.
    model = make_model("equivariant")
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=2)
    graph = from_atoms(atoms, model.r_max)
    out = energy_and_forces(model, graph)
    graph[keys.ENERGY] = out[keys.ENERGY].detach()
    graph[keys.FORCES] = out[keys.FORCES].detach()
    rotation = random_orthogonal_matrices(1, torch.Generator().manual_seed(3))[0]
    turned = rotated_graph(graph, rotation)
    predicted = energy_and_forces(model, turned)
    assert not torch.allclose(turned[keys.POSITIONS], graph[keys.POSITIONS])
    assert torch.allclose(predicted[keys.FORCES], turned[keys.FORCES], atol=1e-10)
    assert torch.equal(turned[keys.ENERGY], graph[keys.ENERGY])


def test_rotated_cell_keeps_periodic_edge_vectors_turned():
    atoms = molecule("H2O")
    atoms.cell = [[4.0, 0.2, 0.0], [0.0, 4.5, 0.3], [0.1, 0.0, 5.0]]
    atoms.pbc = True
    graph = from_atoms(atoms, 3.0)
    rotation = random_orthogonal_matrices(1, torch.Generator().manual_seed(1))[0]
    turned = rotated_graph(graph, rotation)
    model = make_model("invariant", r_max=3.0)
    before = model.edge_vectors(graph)[0]
    after = model.edge_vectors(turned)[0]
    assert torch.allclose(after, before @ rotation.T, atol=1e-12)


def distances(positions):
    return (positions[:, None] - positions[None, :]).norm(dim=-1)


def test_augmented_batches_keep_the_shuffle_and_are_reproducible(graphs):
    plain = epoch_batches(graphs, 5, seed=4, epoch=2)
    turned = epoch_batches(graphs, 5, seed=4, epoch=2, augment_rotations=True)
    again = epoch_batches(graphs, 5, seed=4, epoch=2, augment_rotations=True)
    later = epoch_batches(graphs, 5, seed=4, epoch=3, augment_rotations=True)
    for first, second, third in zip(plain, turned, again, strict=True):
        assert torch.equal(first[keys.ENERGY], second[keys.ENERGY])
        assert not torch.allclose(first[keys.POSITIONS], second[keys.POSITIONS])
        assert torch.equal(second[keys.POSITIONS], third[keys.POSITIONS])
        assert torch.equal(second[keys.FORCES], third[keys.FORCES])
        # Distances within each structure and force magnitudes stay as they were.
        same = first[keys.BATCH][:, None] == first[keys.BATCH][None, :]
        assert torch.allclose(
            distances(first[keys.POSITIONS])[same],
            distances(second[keys.POSITIONS])[same],
        )
        assert torch.allclose(
            first[keys.FORCES].norm(dim=1), second[keys.FORCES].norm(dim=1)
        )
    assert not torch.equal(turned[0][keys.POSITIONS], later[0][keys.POSITIONS])


def test_augmented_run_resumes_bit_identically(tmp_path):
    settings = dict(augment_rotations=True, max_epochs=3)
    fit(tiny_run(tmp_path / "straight", **settings))
    fit(tiny_run(tmp_path / "resumed", **{**settings, "max_epochs": 1}))
    assert len(metric_rows(tmp_path / "resumed")) == 1
    fit(
        load_resume_config(tmp_path / "resumed", ["train.max_epochs=3"]),
        resume=True,
    )
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")
    plain = tmp_path / "plain"
    fit(tiny_run(plain, max_epochs=3))
    assert metric_rows(plain) != metric_rows(tmp_path / "straight")
