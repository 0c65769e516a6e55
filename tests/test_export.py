"""The compiled form: the physics contract, agreement with eager, bad input."""

import json
import zipfile

import numpy as np
import pytest
import test_model_contract as contract
import torch
from ase import Atoms
from ase.build import molecule
from conftest import make_model

from mlpot import MLPotCalculator, load_calculator
from mlpot.analysis.symmetry import equivariance_errors
from mlpot.cli.export import main as export_main
from mlpot.export import (
    METADATA_MEMBER,
    CompiledPotential,
    ExportError,
    compiled_cache_path,
    export_model,
    is_export,
)
from mlpot.model.base import UnknownSpeciesError
from mlpot.model.io import save_model

COMPILED_KINDS = ["equivariant", "invariant"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """One export per family, compiled once for the module (each takes about a minute).

    The equivariant one goes through ``load_calculator(ckpt, compiled=True)``
    and its cache; the invariant one through `export_model`.
    """
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("exports")
    checkpoints = {kind: folder / f"{kind}.ckpt" for kind in COMPILED_KINDS}
    for kind, path in checkpoints.items():
        save_model(make_model(kind), path)
    cache = folder / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLPOT_CACHE", str(cache))
        calculator = load_calculator(checkpoints["equivariant"], compiled=True)
        cached = compiled_cache_path(checkpoints["equivariant"], torch.float64)
    assert isinstance(calculator.model, CompiledPotential)
    assert calculator.model.path == cached and cached.is_file()
    files = {"equivariant": cached}
    files["invariant"] = export_model(checkpoints["invariant"], folder / "inv.pt2")
    return {"checkpoints": checkpoints, "files": files}


class TestCompiledModelContract(contract.TestTabulatedModelContract):
    """The same physics, run by the AOTInductor-compiled program.

    The program evaluates the radial tables, so the tabulated contract applies
    (forces reach zero at r_max continuously, C¹).
    """

    @pytest.fixture(params=COMPILED_KINDS)
    def model_kind(self, request):
        return request.param

    @pytest.fixture
    def model(self, model_kind, exports):
        return CompiledPotential(exports["files"][model_kind])

    def test_equivariance_check_detects_a_broken_model(self, model, ethanol):
        # Compiled results with a term in absolute coordinates must be caught.
        class Broken:
            is_compiled = True
            r_max = model.r_max

            def energy_and_forces(self, graph, compute_stress=False):
                out = model.energy_and_forces(graph, compute_stress)
                out["forces"] = out["forces"] + graph["pos"] ** 2
                return out

        assert equivariance_errors(Broken(), ethanol, ntrials=1)["forces"] > 1e-3

    def test_float64_after_float32_is_exactly_symmetric(self, model, ethanol):
        # A compiled program keeps its dtype; a request for another is refused.
        with pytest.raises(
            ExportError, match="was compiled in float64; export it again"
        ):
            model.to(dtype=torch.float32)

    def test_float32_model_keeps_energy_in_float64(self, model, ethanol):
        assert contract.evaluate(model, ethanol)["energy"].dtype == torch.float64


@pytest.mark.parametrize("kind", COMPILED_KINDS)
def test_compiled_equals_eager(kind, exports):
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=4)
    eager = load_calculator(exports["checkpoints"][kind])
    compiled = load_calculator(exports["files"][kind])
    assert isinstance(compiled.model, CompiledPotential)
    assert type(compiled) is type(eager)
    results = []
    for calc in (eager, compiled):
        atoms.calc = calc
        results.append((atoms.get_potential_energy(), atoms.get_forces().copy()))
    assert abs(results[0][0] - results[1][0]) < 1e-9
    np.testing.assert_allclose(results[1][1], results[0][1], atol=1e-9)
    assert np.abs(results[0][1]).max() > 1e-3


def test_compiled_batch_and_many(exports):
    compiled = load_calculator(exports["files"]["equivariant"])
    eager = load_calculator(exports["checkpoints"]["equivariant"])
    structures = [molecule("CH3CH2OH"), molecule("H2O"), Atoms("H")]
    for a, b in zip(
        compiled.calculate_many(structures),
        eager.calculate_many(structures),
        strict=True,
    ):
        assert abs(a["energy"] - b["energy"]) < 1e-9
        np.testing.assert_allclose(a["forces"], b["forces"], atol=1e-9)


def test_compiled_refuses_unknown_species(exports):
    atoms = Atoms("CN", positions=[[0, 0, 0], [1.2, 0, 0]])
    atoms.calc = load_calculator(exports["files"]["equivariant"])
    with pytest.raises(UnknownSpeciesError, match="contains N, which this model"):
        atoms.get_forces()


def test_export_refuses_to_overwrite(exports, capsys):
    target = exports["files"]["invariant"]
    before = target.read_bytes()
    status = export_main([str(exports["checkpoints"]["invariant"]), "-o", str(target)])
    assert status == 1
    assert "exists; choose another output or pass overwrite=True (--overwrite)" in (
        capsys.readouterr().err
    )
    assert target.read_bytes() == before


def test_newer_export_format_is_refused(exports, tmp_path):
    from mlpot.export import read_export_metadata

    meta = read_export_metadata(exports["files"]["invariant"])
    meta["format_version"] = 99
    newer = _with_metadata(exports["files"]["invariant"], meta, tmp_path)
    with pytest.raises(ExportError, match="export of format 99, newer than this mlpot"):
        load_calculator(newer)
    meta["format_version"] = "1"
    with pytest.raises(ExportError, match="no valid format_version"):
        CompiledPotential(_with_metadata(exports["files"]["invariant"], meta, tmp_path))


def _with_metadata(source, meta, folder):
    out = folder / "edited.pt2"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("/" + METADATA_MEMBER):
                data = json.dumps(meta)
            dst.writestr(item, data)
    return out


def test_a_checkpoint_is_not_an_export(exports, tmp_path):
    assert not is_export(exports["checkpoints"]["invariant"])
    with pytest.raises(ExportError, match="is not a model exported by mlpot-export"):
        CompiledPotential(exports["checkpoints"]["invariant"])


def test_committee_is_not_compiled(tmp_path):
    from mlpot.model.committee import Committee, save_committee

    members = [make_model("equivariant"), make_model("equivariant")]
    folder = save_committee(Committee(members), tmp_path / "c")
    with pytest.raises(ValueError, match="compiled=True runs single models only"):
        load_calculator(folder, compiled=True)


def test_calculator_refuses_unknown_options(tmp_path):
    path = save_model(make_model("invariant"), tmp_path / "m.ckpt")
    with pytest.raises(
        TypeError,
        match=r"unknown option\(s\) 'num_thread' \(did you mean "
        r"'num_threads'\?\)",
    ):
        load_calculator(path, num_thread=1)
    with pytest.raises(TypeError, match="unknown option"):
        MLPotCalculator(path, compile=True)


def test_compiled_counts_only_local_energies(exports):
    # An engine's ghosts: their energies do not count, but they get forces.
    from mlpot import keys
    from mlpot.graph import from_atoms
    from mlpot.model.forces import energy_and_forces

    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=5)
    compiled = CompiledPotential(exports["files"]["equivariant"])
    eager = load_calculator(exports["checkpoints"]["equivariant"]).model
    graph = from_atoms(atoms, compiled.r_max)
    graph[keys.LOCAL] = torch.arange(len(atoms)) < 4
    a, b = energy_and_forces(compiled, graph), energy_and_forces(eager, graph)
    whole = energy_and_forces(eager, from_atoms(atoms, compiled.r_max))
    assert abs(float(a["energy"][0] - b["energy"][0])) < 1e-9
    assert abs(float(a["energy"][0] - whole["energies"][:4].sum())) < 1e-9
    torch.testing.assert_close(a["forces"], b["forces"].detach(), atol=1e-9, rtol=0)
    assert float((a["forces"][4:] - whole["forces"][4:]).abs().max()) > 1e-4


def test_an_export_opens_in_its_own_dtype(exports, tmp_path):
    single = export_model(
        exports["checkpoints"]["invariant"], tmp_path / "f32.pt2", dtype="float32"
    )
    calculator = load_calculator(single)
    assert calculator.dtype == torch.float32
    atoms = molecule("CH3CH2OH")
    atoms.calc = calculator
    compiled = atoms.get_forces()
    atoms.calc = load_calculator(exports["checkpoints"]["invariant"], dtype="float32")
    np.testing.assert_allclose(compiled, atoms.get_forces(), atol=1e-4)
    with pytest.raises(ExportError, match="compiled in float32; export it again"):
        load_calculator(single, dtype="float64")
