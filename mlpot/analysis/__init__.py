"""Analysis tools: symmetry checks, geometry, torsions, latent spaces."""
