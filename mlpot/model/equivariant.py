"""`EquivariantPotential`: a NequIP-style E(3)-equivariant potential built on e3nn."""

import torch
from e3nn import o3
from torch import nn

from mlpot import keys
from mlpot.model.base import Potential
from mlpot.model.config import ModelConfig
from mlpot.nn.equivariant import EquivariantInteraction


class EquivariantPotential(Potential):
    """E(3)-equivariant message-passing potential (NequIP architecture).

    Species embedding → ``num_layers`` ×
    :class:`~mlpot.nn.equivariant.EquivariantInteraction`
    on features ``num_features x (0e + 1o + 2e + ...)`` up to ``lmax`` → the
    scalar channels of the last layer → per-atom energy readout. The last layer
    outputs scalars only, which is all the readout uses.

    Parameters
    ----------
    config : ModelConfig
        Hyperparameters; ``config.name`` must be ``"equivariant"``.
    """

    family = "equivariant"
    # Above twice this many edges, inference sums messages over slices of
    # centre atoms of about this many edges each, under activation
    # checkpointing (`EquivariantInteraction.forward_in_chunks`), so that the
    # memory of a large system grows with its atoms, not its edges times the
    # message width. None turns it off.
    edge_chunk = 4096

    def __init__(self, config: ModelConfig):
        super().__init__(config, num_readout_inputs=config.num_features)
        self.spherical_harmonics = o3.SphericalHarmonics(
            o3.Irreps.spherical_harmonics(config.lmax),
            normalize=True,
            normalization="component",
        )
        self.embedding = nn.Embedding(self.num_species, config.num_features)
        # Scalars in, features up to lmax between layers, scalars out of the last layer.
        orders = [0] + [config.lmax] * (config.num_layers - 1) + [0]
        self.layers = nn.ModuleList(
            EquivariantInteraction(
                lmax_in=orders[k],
                lmax_out=orders[k + 1],
                lmax_edge=config.lmax,
                num_features=config.num_features,
                num_basis=config.num_basis,
                num_species=self.num_species,
                avg_num_neighbors=config.avg_num_neighbors,
                radial_hidden=config.radial_hidden,
                radial_layers=config.radial_layers,
                correlation=config.correlation,
            )
            for k in range(config.num_layers)
        )

    @property
    def can_tabulate_radial(self) -> bool:
        """True: the radial MLPs read the Bessel × cutoff embedding of r only."""
        return True

    def radial_network_modules(self):
        """The layers' radial MLPs (embedding to path weights, num_paths · C)."""
        return [layer.radial_mlp for layer in self.layers]

    def features(self, graph, species=None) -> torch.Tensor:
        """Scalar (0e) features of the last layer, shape (N, num_features)."""
        if species is None:
            species = self.species_of(graph[keys.NUMBERS])
        vectors, lengths = self.edge_vectors(graph)
        table = self.active_radial_table()
        num_edges = lengths.shape[0]
        if (
            self.edge_chunk is not None
            and not self.training
            and not self._tracing
            and num_edges > 2 * self.edge_chunk
        ):
            return self._features_in_chunks(graph, species, vectors, lengths, table)
        if table is None:
            radial, _ = self.radial_embedding(lengths)
            weights = [None] * len(self.layers)
        else:
            radial = None
            weights = table(lengths).split(self.radial_output_sizes(), dim=1)
        harmonics = self.spherical_harmonics(vectors)
        h = self.embedding(species).unsqueeze(1)
        for layer, layer_weights in zip(self.layers, weights, strict=True):
            h = layer(
                h,
                species,
                harmonics,
                radial,
                graph[keys.EDGE_INDEX],
                radial_weights=layer_weights,
            )
        return h.squeeze(1)

    def _features_in_chunks(self, graph, species, vectors, lengths, table):
        """:meth:`features` with the neighbour sums taken over slices of atoms."""
        edge_index = graph[keys.EDGE_INDEX]
        order = torch.argsort(edge_index[0], stable=True)
        edge_index, vectors, lengths = (
            edge_index[:, order],
            vectors[order],
            lengths[order],
        )
        harmonics = self.spherical_harmonics(vectors)
        num_atoms = species.shape[0]
        chunks = _atom_slices(edge_index[0], num_atoms, self.edge_chunk)
        offsets = [0]
        for size in self.radial_output_sizes():
            offsets.append(offsets[-1] + size)
        h = self.embedding(species).unsqueeze(1)
        for k, layer in enumerate(self.layers):
            if table is None:
                radial_fn = _network_weights(self, layer)
            else:
                radial_fn = _table_weights(table, offsets[k], offsets[k + 1])
            h = layer.forward_in_chunks(
                h, species, harmonics, lengths, edge_index, radial_fn, chunks
            )
        return h.squeeze(1)


def _network_weights(model, layer):
    def weights(lengths):
        return layer.radial_mlp(model.radial_embedding(lengths)[0])

    return weights


def _table_weights(table, start, stop):
    def weights(lengths):
        return table(lengths, columns=(start, stop))

    return weights


def _atom_slices(centre: torch.Tensor, num_atoms: int, edge_chunk: int):
    """Slices of consecutive centre atoms with about ``edge_chunk`` edges each.

    Parameters
    ----------
    centre : Tensor, shape (E,)
        Centre of each edge, sorted.

    Returns
    -------
    list of (first_atom, end_atom, first_edge, end_edge)
    """
    counts = torch.bincount(centre, minlength=num_atoms)
    ends = torch.cumsum(counts, 0).tolist()
    chunks, first_atom, first_edge = [], 0, 0
    for atom, end in enumerate(ends):
        if end - first_edge >= edge_chunk or atom == num_atoms - 1:
            chunks.append((first_atom, atom + 1, first_edge, end))
            first_atom, first_edge = atom + 1, end
    return chunks
