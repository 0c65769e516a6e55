"""Reference methods: the quantum-chemistry calculators that label generated data.

GFN2-xTB (and GFN1-xTB, IPEA1-xTB) through tblite's ASE calculator, and DFT or
Hartree-Fock through PySCF; each imported only when used.
"""

import importlib.metadata
from dataclasses import dataclass
from typing import Callable

from ase import units
from ase.calculators.calculator import Calculator, all_changes

XTB_METHODS = {"gfn2-xtb": "GFN2-xTB", "gfn1-xtb": "GFN1-xTB", "ipea1-xtb": "IPEA1-xTB"}
# tblite's SCF accuracy: 0.01 leaves force noise below 1e-6 eV/Å (1.0, its
# default, about 1e-4) for 10 % more time.
XTB_ACCURACY = 0.01


@dataclass(frozen=True)
class ReferenceMethod:
    """A reference level of theory and how to make its ASE calculator.

    Attributes
    ----------
    calculator : callable
        Returns a new ASE calculator (eV, eV/Å) each time it is called.
    level_of_theory : str
        E.g. ``"GFN2-xTB"`` or ``"B3LYP/def2-SVP"``.
    program : str
        Code and version, e.g. ``"tblite 0.8.0"``.
    """

    calculator: Callable[[], Calculator]
    level_of_theory: str
    program: str

    @property
    def description(self) -> str:
        """E.g. ``"GFN2-xTB (tblite 0.8.0)"``."""
        return f"{self.level_of_theory} ({self.program})"


def reference_method(
    name: str = "gfn2-xtb", charge: int = 0, multiplicity: int = 1
) -> ReferenceMethod:
    """The reference method called ``name``.

    Parameters
    ----------
    name : str
        ``"gfn2-xtb"`` (default), ``"gfn1-xtb"`` or ``"ipea1-xtb"`` through
        tblite with a tight SCF (milliseconds per call for small molecules), or
        ``"pyscf-<xc>/<basis>"`` for DFT through PySCF, e.g.
        ``"pyscf-b3lyp/def2-svp"`` (seconds per call; ``xc`` may be ``hf``).
    charge : int
        Total charge in e.
    multiplicity : int
        Spin multiplicity 2S + 1.

    Returns
    -------
    ReferenceMethod

    Raises
    ------
    ValueError
        For an unknown name.
    ImportError
        If tblite or PySCF, whichever the method needs, is not installed.
    """
    key = name.lower()
    if key in XTB_METHODS:
        try:
            from tblite.ase import TBLite
        except ImportError as error:
            raise ImportError(
                f"the {XTB_METHODS[key]} reference needs tblite: pip install tblite "
                "(or pip install 'mlpot[reference]')"
            ) from error

        def calculator():
            return TBLite(
                method=XTB_METHODS[key],
                charge=charge,
                multiplicity=multiplicity,
                accuracy=XTB_ACCURACY,
                verbosity=0,
            )

        program = f"tblite {importlib.metadata.version('tblite')}"
        return ReferenceMethod(calculator, XTB_METHODS[key], program)
    if key.startswith("pyscf-") and "/" in key:
        xc, basis = name[len("pyscf-") :].split("/", 1)
        pyscf = _import_pyscf()
        return ReferenceMethod(
            lambda: PySCFCalculator(xc, basis, charge=charge, spin=multiplicity - 1),
            f"{xc.upper()}/{basis}",
            f"PySCF {pyscf.__version__}",
        )
    raise ValueError(
        f"unknown reference method {name!r}; use one of {sorted(XTB_METHODS)} or "
        "pyscf-<xc>/<basis>, e.g. pyscf-b3lyp/def2-svp"
    )


def _import_pyscf():
    try:
        import pyscf
        import pyscf.dft  # noqa: F401
        import pyscf.grad  # noqa: F401
        import pyscf.gto  # noqa: F401
        import pyscf.scf  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "the DFT reference needs PySCF: pip install pyscf (or pip install "
            "'mlpot[dft]'), or use the GFN2-xTB reference (method='gfn2-xtb')"
        ) from error
    return pyscf


class PySCFCalculator(Calculator):
    """Minimal ASE calculator for a molecule with PySCF (restricted or unrestricted).

    Parameters
    ----------
    xc : str
        Exchange-correlation functional as PySCF names it (``"b3lyp"``,
        ``"pbe"``...), or ``"hf"`` for Hartree-Fock.
    basis : str
        Basis set, e.g. ``"def2-svp"``.
    charge : int
        Total charge in e.
    spin : int
        Number of unpaired electrons, 2S.
    """

    implemented_properties = ["energy", "free_energy", "forces"]
    nolabel = True

    def __init__(self, xc: str, basis: str, charge: int = 0, spin: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.xc, self.basis, self.charge, self.spin = xc, basis, charge, spin

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Run the SCF and its nuclear gradient; results in eV and eV/Å."""
        super().calculate(atoms, properties, system_changes)
        pyscf = _import_pyscf()
        molecule = pyscf.gto.M(
            atom=list(
                zip(
                    self.atoms.get_chemical_symbols(), self.atoms.positions, strict=True
                )
            ),
            unit="Angstrom",
            basis=self.basis,
            charge=self.charge,
            spin=self.spin,
            verbose=0,
        )
        if self.xc.lower() == "hf":
            mean_field = pyscf.scf.HF(molecule)
        else:
            mean_field = pyscf.dft.KS(molecule)
            mean_field.xc = self.xc
        energy = mean_field.kernel()
        if not mean_field.converged:
            raise RuntimeError(
                "the PySCF SCF did not converge for "
                f"{self.atoms.get_chemical_formula()}; check the structure (atoms "
                "too close?) or the charge and spin"
            )
        gradient = mean_field.nuc_grad_method().kernel()
        energy *= units.Hartree
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": -gradient * units.Hartree / units.Bohr,
        }
