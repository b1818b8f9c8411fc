"""xor-lightning's Hydra launcher ``hydra/launcher=population``: a multirun's jobs packed into populations."""
