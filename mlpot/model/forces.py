"""The one place where forces and stress are made: autograd of the total energy."""

from typing import Dict

import torch

from mlpot import keys
from mlpot.graph import AtomicGraph


def energy_and_forces(
    model,
    graph: AtomicGraph,
    compute_forces: bool = True,
    compute_stress: bool = False,
    training: bool = False,
) -> Dict[str, torch.Tensor]:
    """Energy, per-atom energies, forces and (optionally) stress of a batch.

    Forces are ``-dE/dpos`` and stress is ``(1/V) dE/dε`` for a symmetric
    strain ε applied to positions and cell, so every model is conservative by
    construction.

    Parameters
    ----------
    model : mlpot.model.Potential
        Any potential with ``atomic_energies(graph)`` and ``sum_per_structure``.
    graph : AtomicGraph
        The batch; must hold ``cell`` when ``compute_stress``. With ``local``
        only those atoms' energies are summed (ghosts get 0 in ``energies``);
        every atom, ghost or not, gets its force from that sum.
    compute_forces : bool
        Whether to differentiate for forces.
    compute_stress : bool
        Whether to differentiate for stress (periodic structures only).
    training : bool
        Keep the graph of the derivatives so a loss on forces can be
        back-propagated (``create_graph``).

    Returns
    -------
    dict
        ``energy`` (B,) eV float64, ``energies`` (N,) eV float64, and when asked
        ``forces`` (N, 3) eV/Å and ``stress`` (B, 3, 3) eV/Å³.
    """
    if getattr(model, "is_compiled", False):
        # An exported program: these forces were made by this function when it
        # was traced (mlpot.export); it cannot be differentiated again.
        if training:
            raise ValueError(
                "a compiled model cannot be trained; train the checkpoint it was "
                "exported from"
            )
        return model.energy_and_forces(graph, compute_stress=compute_stress)
    graph = dict(graph)
    inputs = []
    if compute_forces or compute_stress:
        positions = graph[keys.POSITIONS].detach().requires_grad_(True)
        graph[keys.POSITIONS] = positions
        inputs.append(positions)
    if compute_stress:
        if keys.CELL not in graph:
            raise ValueError(
                "stress needs a periodic cell; set atoms.cell and atoms.pbc"
            )
        cell = graph[keys.CELL]
        strain = torch.zeros_like(cell, requires_grad=True)
        symmetric = 0.5 * (strain + strain.transpose(1, 2))
        batch = graph[keys.BATCH]
        graph[keys.POSITIONS] = positions + torch.einsum(
            "ni,nij->nj", positions, symmetric[batch]
        )
        graph[keys.CELL] = cell + torch.bmm(cell, symmetric)
        inputs.append(strain)

    energies = model.atomic_energies(graph)
    if keys.LOCAL in graph:
        energies = torch.where(graph[keys.LOCAL], energies, torch.zeros_like(energies))
    energy = model.sum_per_structure(energies, graph)
    results = {keys.ENERGY: energy, keys.ENERGIES: energies}
    if inputs:
        grads = torch.autograd.grad(
            energy.sum(), inputs, create_graph=training, allow_unused=True
        )
        if compute_forces:
            results[keys.FORCES] = _zero_if_none(grads[0], inputs[0]).neg()
        if compute_stress:
            # The triple product: a compiled program has no kernel of its own for det.
            volume = (
                torch.linalg.cross(cell[:, 1], cell[:, 2]).mul(cell[:, 0]).sum(-1).abs()
            )
            results[keys.STRESS] = (
                _zero_if_none(grads[-1], strain) / volume[:, None, None]
            )
    return results


def _zero_if_none(grad, like):
    # A structure whose atoms have no neighbours within r_max has no gradient path.
    return torch.zeros_like(like) if grad is None else grad
