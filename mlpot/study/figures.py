"""The figures of a study, written as PNG files (matplotlib, no display needed)."""

import io
from pathlib import Path
from typing import Dict, Mapping

import numpy as np

from mlpot.fileio import atomic_path

COLOURS = {
    "equivariant": "C0",
    "invariant": "C1",
    "cartesian": "C2",
    "cartesian-augmented": "C3",
}
FIGURES_DIR = "figures"
"""Folder of the figures inside the study folder."""
QUANTITIES = (
    ("energy", "energy MAE (meV)"),
    ("forces", "force MAE (meV/Å)"),
)


def learning_curve_figure(path, molecule: str, curves: Mapping[str, Dict]) -> Path:
    """Log-log learning curves of energy and force errors, with fitted power laws.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    molecule : str
        Used in the title.
    curves : dict
        Family → ``sizes`` (P,), ``energy`` and ``forces``: per size a list
        of test MAEs in meV and meV/Å, one per seed, and ``slopes``:
        quantity → ``slope``, ``prefactor`` of the fit.
    """
    figure = _figure(10, 4.2)
    for axis, (quantity, label) in zip(figure.subplots(1, 2), QUANTITIES, strict=True):
        for family, curve in curves.items():
            sizes = np.asarray(curve["sizes"], dtype=np.float64)
            fit = curve["slopes"][quantity]
            colour = COLOURS[family]
            for size, values in zip(sizes, curve[quantity], strict=True):
                axis.scatter(
                    np.full(len(values), size), values, s=10, alpha=0.4, color=colour
                )
            means = [np.mean(values) for values in curve[quantity]]
            axis.plot(sizes, means, "o-", color=colour, label=family)
            axis.plot(
                sizes,
                fit["prefactor"] * sizes ** fit["slope"],
                "--",
                color=colour,
                label=f"fit, slope {fit['slope']:.2f}",
            )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("training frames")
        axis.set_ylabel(f"test {label}")
        axis.legend(fontsize="small")
    figure.suptitle(f"{molecule}: data efficiency")
    return _save(figure, path)


def training_time_figure(
    path, molecule: str, curves: Mapping[str, Dict], n_train: int, clock="wall"
) -> Path:
    """Best validation force error so far against training time, per family.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    molecule : str
        Used in the title.
    curves : dict
        Family → ``time_s`` (epochs,) training time at each epoch's end in s
        and ``best`` (epochs,) the best validation force MAE so far in meV/Å.
    n_train : int
        Training frames of the runs, for the title.
    clock : str
        ``"cpu"`` when ``time_s`` counts CPU seconds, ``"wall"`` for wall time.
    """
    figure = _figure(6, 4.2)
    axis = figure.subplots()
    for family, curve in curves.items():
        minutes = np.asarray(curve["time_s"], dtype=np.float64) / 60
        axis.step(
            minutes, curve["best"], where="post", color=COLOURS[family], label=family
        )
    axis.set_yscale("log")
    axis.set_xlabel(
        "training time (CPU min)" if clock == "cpu" else "training time (min)"
    )
    axis.set_ylabel("best validation force MAE so far (meV/Å)")
    axis.legend(fontsize="small")
    figure.suptitle(f"{molecule}: accuracy against training time, {n_train} frames")
    return _save(figure, path)


def generalisation_figure(
    path,
    molecule: str,
    reference,
    predicted: Mapping[str, np.ndarray],
    errors_in_distribution: Mapping[str, np.ndarray],
    threshold: float,
) -> Path:
    """Densities of reference and predicted energies on the high-energy frames.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    molecule : str
        Used in the title.
    reference : array_like, shape (F,)
        Reference energies of the out-of-distribution frames, eV.
    predicted : dict
        Family → predicted energies (F,) of the same frames, eV.
    errors_in_distribution : dict
        Family → signed energy errors (meV) on in-distribution test frames.
    threshold : float
        Highest training energy in eV; energies are plotted relative to it.
    """
    figure = _figure(10, 4.2)
    left, right = figure.subplots(1, 2)
    reference = np.asarray(reference) - threshold
    _density_line(left, reference, "reference", "black")
    for family, energies in predicted.items():
        colour = COLOURS[family]
        _density_line(left, np.asarray(energies) - threshold, family, colour)
        ood = (np.asarray(energies) - threshold - reference) * 1000
        _density_line(right, ood, f"{family}, high-energy frames", colour)
        _density_line(
            right, errors_in_distribution[family], f"{family}, in distribution", colour
        )
        right.lines[-1].set_linestyle("--")
    left.axvline(0.0, color="grey", linewidth=0.8)
    left.set_xlabel("energy above the highest training energy (eV)")
    right.set_xlabel("predicted − reference energy (meV)")
    for axis in (left, right):
        axis.set_ylabel("density")
        axis.legend(fontsize="small")
    figure.suptitle(f"{molecule}: trained on low energies, tested on high ones")
    return _save(figure, path)


def seed_band_figure(path, title: str, curves: Mapping[str, Dict]) -> Path:
    """Validation energy MAE against epoch: the mean over seeds and their band.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    title : str
        Figure title.
    curves : dict
        Family → ``epoch``, ``mean``, ``low`` and ``high`` (lists of equal
        length; MAE in meV).
    """
    figure = _figure(5.5, 4.0)
    axis = figure.subplots()
    for family, curve in curves.items():
        colour = COLOURS[family]
        axis.fill_between(
            curve["epoch"], curve["low"], curve["high"], color=colour, alpha=0.25
        )
        axis.plot(curve["epoch"], curve["mean"], color=colour, label=family)
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation energy MAE (meV)")
    axis.legend(title="mean; band: seeds' range", fontsize="small")
    figure.suptitle(title)
    return _save(figure, path)


def latent_figure(
    path,
    title: str,
    embeddings: Mapping[str, np.ndarray],
    variables: Mapping[str, np.ndarray],
    knn_scores: Mapping[str, Mapping[str, float]],
) -> Path:
    """Projections of the latent features, coloured by each variable.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    title : str
        Figure title.
    embeddings : dict
        Projection name (``"pca"``, ``"tsne"``) → coordinates (F, 2).
    variables : dict
        Variable name → values (F,).
    knn_scores : dict
        Variable name → projection name → k-nearest-neighbour R².
    """
    figure = _figure(3.2 * len(variables), 3.0 * len(embeddings))
    axes = np.atleast_2d(figure.subplots(len(embeddings), len(variables)))
    for row, (method, points) in zip(axes, embeddings.items(), strict=True):
        for axis, (name, values) in zip(row, variables.items(), strict=True):
            image = axis.scatter(points[:, 0], points[:, 1], c=values, s=5)
            figure.colorbar(image, ax=axis)
            axis.set_title(
                f"{name}\nkNN R² {knn_scores[name][method]:.2f}", fontsize="small"
            )
            label = "PC" if method == "pca" else "t-SNE"
            axis.set_xlabel(f"{label} 1")
            axis.set_ylabel(f"{label} 2")
            axis.set_xticks([])
            axis.set_yticks([])
    figure.suptitle(title)
    return _save(figure, path)


def symmetry_figure(path, molecule: str, models: Mapping[str, Dict]) -> Path:
    """Force equivariance errors per model and precision, and test force errors.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    molecule : str
        Used in the title.
    models : dict
        Model label (a key of :data:`COLOURS`) → ``equivariance``: dtype
        name → ``forces_meV_per_A``; and ``test_forces_mae_meV_per_A``.
    """
    figure = _figure(10, 4.2)
    left, right = figure.subplots(1, 2)
    labels = list(models)
    positions = np.arange(len(labels))
    for offset, dtype in ((-0.2, "float32"), (0.2, "float64")):
        errors = [models[m]["equivariance"][dtype]["forces_meV_per_A"] for m in labels]
        # A log axis cannot show an exact zero; draw it at 1e-16 meV/Å.
        left.bar(
            positions + offset,
            np.maximum(errors, 1e-16),
            width=0.4,
            label=dtype,
            hatch="" if dtype == "float64" else "//",
            color=[COLOURS[m] for m in labels],
            edgecolor="black",
        )
    left.set_yscale("log")
    left.set_ylabel("largest force change under O(3) (meV/Å)")
    left.legend(fontsize="small")
    right.bar(
        positions,
        [models[m]["test_forces_mae_meV_per_A"] for m in labels],
        color=[COLOURS[m] for m in labels],
        edgecolor="black",
    )
    right.set_ylabel("test force MAE (meV/Å)")
    for axis in (left, right):
        axis.set_xticks(positions, labels, rotation=15, fontsize="small")
    figure.suptitle(f"{molecule}: symmetry and its cost")
    return _save(figure, path)


def _density_line(axis, values, label: str, colour: str) -> None:
    """A Gaussian kernel density estimate (scipy, Scott's bandwidth) drawn as a line.

    Values that are all equal have no spread to estimate a bandwidth from;
    they are drawn as a vertical line.
    """
    from scipy.stats import gaussian_kde

    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.std() == 0:
        axis.axvline(values[0], color=colour, label=label)
        return
    kde = gaussian_kde(values, bw_method="scott")
    width = float(np.sqrt(kde.covariance[0, 0]))
    grid = np.linspace(values.min() - 3 * width, values.max() + 3 * width, 400)
    axis.plot(grid, kde(grid), color=colour, label=label)


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "the study figures need matplotlib: pip install matplotlib "
            "(or mlpot[analysis])"
        ) from None
    return Figure(figsize=(width, height), layout="constrained")


def _save(figure, path) -> Path:
    """Write ``figure`` as a 256-colour PNG, about a third of a full-colour one."""
    from PIL import Image  # a dependency of matplotlib

    path = Path(path)
    rendered = io.BytesIO()
    figure.savefig(rendered, format="png", dpi=120)
    rendered.seek(0)
    with Image.open(rendered) as image:
        palette = image.convert("RGB").quantize(256)
    with atomic_path(path) as tmp:
        palette.save(tmp, format="PNG", optimize=True)
    return path
