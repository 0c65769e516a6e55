"""Couplings of mlpot potentials to other MD engines (LAMMPS, i-PI).

Each coupling calls the same force path as the ASE calculator
(`mlpot.model.forces.energy_and_forces`), with an eager or a compiled model.
"""
