"""The science: data, populations, losses, the training module, verdicts, evaluation, diagnosis,
statistics. No files, no Hydra.
"""
