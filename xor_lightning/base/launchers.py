"""Which Hydra launchers run a multirun's jobs in this very process, one after another."""

# The basic launcher (one job at a time) and ours (hydra/launcher=population: one packed population
# at a time, hydra_plugins/xor_lightning_population); joblib and submitit run jobs side by side.
IN_PROCESS = ("BasicLauncher", "PopulationLauncher")


def in_process(target: object) -> bool:
    """``target``: the launcher's ``_target_`` (hydra.launcher._target_)."""
    return str(target).endswith(IN_PROCESS)
