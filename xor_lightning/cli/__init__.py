"""argv to a composed, checked config: command dispatch, precheck of every job, --help/--cfg, shell
completion, the Hydra entry points.
"""
