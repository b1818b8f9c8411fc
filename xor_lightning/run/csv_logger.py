"""Lightning's CSVLogger with its two whole-file rewrites made whole-or-nothing.

CSVLogger rewrites ``hparams.yaml`` whole at every ``log_hyperparams``, and ``metrics.csv`` whole
whenever a save brings new columns (the run's final ``verdict/*`` results do, at its very end), both in
place: a kill or a full disk in the middle left a torn hparams.yaml, or a metrics.csv holding part
of its rows, the run's curves lost. Here both go through base/atomic_io (a temporary file, then a
rename). The rows appended between rewrites stay appends: rewriting the file at every flush would
cost time quadratic in the run's length, and a kill can then cut only the last flush's rows short.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.core.saving import save_hparams_to_yaml
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from xor_lightning.base.atomic_io import atomic_write_bytes, atomic_write_text


class WholeFileWriter(ExperimentWriter):
    """Lightning's ExperimentWriter, its rewrites of whole files atomic (local folders only)."""

    def log_hparams(self, params: dict[str, Any]) -> None:
        self.hparams.update(params)
        path = Path(self.log_dir) / self.NAME_HPARAMS_FILE
        # Lightning's own YAML (its OmegaConf and fallback rules), rendered beside the file, then renamed over it.
        draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # a killed one is removed as stale
        try:
            save_hparams_to_yaml(str(draft), self.hparams)
            atomic_write_bytes(path, draft.read_bytes())
        finally:
            draft.unlink(missing_ok=True)

    def save(self) -> None:
        """Lightning's save, except that a save that fails (a full disk) is wholly undone: its new
        columns are forgotten too, so the next save adds them to the file again."""
        keys = list(self.metrics_keys)
        try:
            super().save()
        except BaseException:
            self.metrics_keys = keys
            raise

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        with open(self.metrics_file_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.metrics_file_path, text.getvalue())


class WholeFileCSVLogger(CSVLogger):
    """``logger=csv`` as the run builds it (run/loggers.build_loggers): Lightning's CSVLogger writing
    through WholeFileWriter."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = WholeFileWriter(log_dir=self.log_dir)
        return self._experiment
