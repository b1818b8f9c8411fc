"""Keep Lightning's console quiet and send what it does say to Hydra's log file."""

from __future__ import annotations

import logging
import warnings


def quiet_lightning() -> None:
    # Lightning gives its logger its own handler and propagate=False, so its lines would miss the
    # run's .log file. Route them through the root logger (Hydra's handlers); banners are INFO.
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.WARNING)
    # Except what the user asked for: +trainer.profiler=simple|advanced reports its summary at INFO.
    logging.getLogger("pytorch_lightning.profilers").setLevel(logging.INFO)
    logging.getLogger("lightning.pytorch.profilers").setLevel(logging.INFO)
    # A 4-row table needs no workers, so these hints are noise.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*The number of training batches.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    # Raised inside pytorch_lightning itself on torch >= 2.10; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # run_paths locks the checkpoint folder (a .lock file) before the trainer sees it.
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
