"""Labelled graphs and the per-epoch batches built from them."""

from pathlib import Path

import numpy as np
import pytest
import torch

from mlpot import keys
from mlpot.data import read_frames
from mlpot.neighbours import neighbour_list
from mlpot.train.batches import (
    average_num_neighbours,
    epoch_batches,
    fixed_batches,
    labelled_graphs,
)
from mlpot.train.distributed import Workers

TRAIN_FILE = Path(__file__).parent / "data" / "rmd17_ethanol_train_01_subset.npz"


@pytest.fixture(scope="module")
def frames():
    return read_frames(TRAIN_FILE)


@pytest.fixture(scope="module")
def graphs(frames):
    return labelled_graphs(frames, r_max=3.0)


def test_graphs_carry_labels_in_ev(frames, graphs):
    assert len(graphs) == len(frames) == 20
    k = 7
    part = frames.atom_slice(k)
    graph = graphs[k]
    assert graph[keys.ENERGY].dtype == torch.float64
    assert graph[keys.ENERGY].tolist() == [frames.energy[k]]
    np.testing.assert_array_equal(graph[keys.FORCES].numpy(), frames.forces[part])
    np.testing.assert_array_equal(graph[keys.POSITIONS].numpy(), frames.positions[part])
    i, _, _ = neighbour_list(frames.positions[part], 3.0)
    assert graph[keys.EDGE_INDEX].shape[1] == len(i)


def test_graphs_take_the_requested_dtype(frames):
    graph = labelled_graphs(frames.subset([0]), r_max=3.0, dtype=torch.float32)[0]
    assert graph[keys.POSITIONS].dtype == torch.float32
    assert graph[keys.FORCES].dtype == torch.float64


def test_average_num_neighbours_counts_directed_edges_per_atom(graphs):
    edges = sum(g[keys.EDGE_INDEX].shape[1] for g in graphs)
    assert average_num_neighbours(graphs) == pytest.approx(edges / (20 * 9))


def test_fixed_batches_keep_order_and_remainder(graphs):
    batches = fixed_batches(graphs, 6)
    assert [int(b[keys.NUM_ATOMS].numel()) for b in batches] == [6, 6, 6, 2]
    energies = torch.cat([b[keys.ENERGY] for b in batches])
    assert energies.tolist() == [float(g[keys.ENERGY]) for g in graphs]


def epoch_energies(graphs, seed, epoch):
    return torch.cat(
        [b[keys.ENERGY] for b in epoch_batches(graphs, 5, seed, epoch)]
    ).tolist()


def test_epoch_shuffle_is_reproducible_and_changes_per_epoch(graphs):
    first = epoch_energies(graphs, seed=3, epoch=0)
    assert first == epoch_energies(graphs, seed=3, epoch=0)
    assert first != epoch_energies(graphs, seed=3, epoch=1)
    assert first != epoch_energies(graphs, seed=4, epoch=0)
    assert sorted(first) == sorted(float(g[keys.ENERGY]) for g in graphs)


def test_epoch_shuffle_ignores_the_global_random_state(graphs):
    torch.manual_seed(1)
    first = epoch_energies(graphs, seed=3, epoch=2)
    torch.manual_seed(2)
    assert epoch_energies(graphs, seed=3, epoch=2) == first


def test_worker_shares_cover_each_batch_once_and_an_empty_share_weighs_nothing(graphs):
    count = 11  # batches of 5, 5 and 1: the second worker has no share of the last
    shares = [
        epoch_batches(graphs[:count], 5, seed=3, epoch=0, workers=Workers(rank, 2))
        for rank in (0, 1)
    ]
    whole = epoch_batches(graphs[:count], 5, seed=3, epoch=0)
    for position, batch in enumerate(whole):
        parts = [share[position] for share in shares]
        weights = [float(part[keys.SHARE_WEIGHT]) for part in parts]
        trained = [
            e
            for part, w in zip(parts, weights, strict=True)
            if w
            for e in part[keys.ENERGY].tolist()
        ]
        assert sorted(trained) == sorted(batch[keys.ENERGY].tolist())
        assert weights == ([1.0, 1.0] if len(batch[keys.ENERGY]) > 1 else [1.0, 0.0])
        for part in parts:
            assert int(part[keys.TOTAL_STRUCTURES]) == len(batch[keys.ENERGY])
            assert int(part[keys.TOTAL_ATOMS]) == len(batch[keys.NUMBERS])
