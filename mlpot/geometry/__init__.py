"""Geometry of molecular structures: internal coordinates, torsions, torsion drives.

Below both `mlpot.data` (whose reference-data generation drives torsions) and
`mlpot.analysis` (which reports on them); it imports neither, and no torch.
"""
