"""Time and memory of one force call with an atom far from the rest of a molecule.

A neighbour search over the bounding box of all atoms would cost seconds and
gigabytes here; the calculator's should cost what the neighbours cost::

    python benchmarks/far_atom.py
"""

import resource
import time

import mlpot


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from ase.build import molecule

    calculator = mlpot.pretrained("ethanol-equivariant")
    atoms = molecule("CH3CH2OH")
    atoms.calc = calculator
    atoms.get_forces()  # warm up at the normal geometry
    print("| distance of atom 0 | time of the call | peak memory added |")
    print("| --- | --- | --- |")
    for distance in (5e3, 1e5):
        far = molecule("CH3CH2OH")
        far.positions[0] += [distance, 0.0, 0.0]
        far.calc = calculator
        before = peak_mb()
        start = time.perf_counter()
        far.get_forces()
        seconds = time.perf_counter() - start
        print(
            f"| {distance:g} Å | {seconds * 1e3:.1f} ms | {peak_mb() - before:.1f} MB |"
        )


if __name__ == "__main__":
    main()
