"""The LightningModule: a population of ``seeds`` networks trained side by side on the table."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from xor_lightning import divergence
from xor_lightning.losses import member_losses
from xor_lightning.nets import Population


class XORModule(pl.LightningModule):
    """Member i is the network of seed ``seed + i``. The training loss is the *sum* of per-member
    mean losses, so each member's gradient (and elementwise optimizer update) is exactly what it
    would be alone. Logged metrics are means over members, so they read the same for any K.

    Hyperparameters are plain containers (not OmegaConf objects) so checkpoints load with
    ``weights_only=True`` and carry everything ``evaluate`` needs.
    """

    def __init__(
        self,
        model: dict[str, Any],
        loss: dict[str, Any],
        optimizer: dict[str, Any],
        seed: int = 0,
        seeds: int = 1,
        margin: float = 0.4,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.net = Population(
            seeds, model["hidden"], model["activation"], model["init"], model["init_std"], seed
        )
        self.loss_name = loss["name"]
        self.loss_kwargs = {k: v for k, v in loss.items() if k != "name"}
        # Epochs trained when each member first got every row right (-1: not yet). A buffer, so
        # it is saved in (and restored from) checkpoints with the weights it belongs to.
        self.register_buffer("first_solved", torch.full((seeds,), -1, dtype=torch.long))
        # Epoch (1-based) in which each member's loss became non-finite (-1: healthy); see divergence.py.
        self.register_buffer("diverged_at", torch.full((seeds,), -1, dtype=torch.long))
        self.solved_with_margin = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(x)
        return logits, member_losses(self.loss_name, logits, y, **self.loss_kwargs)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        _, losses = self.losses(*batch)
        diverged = divergence.mark(self.diverged_at, losses, self.current_epoch + 1)
        self.log("train/loss", divergence.healthy_mean(losses.detach(), diverged), on_step=False, on_epoch=True)
        # Diverged members add 0 (their NaN gradients are zeroed in on_before_optimizer_step).
        return torch.where(diverged, 0.0, losses).sum()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if bool((self.diverged_at >= 0).any()):
            divergence.freeze(self.net.parameters(), [optimizer], self.diverged_at >= 0)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch  # always the whole table (TruthTableDataModule.val_dataloader)
        logits, losses = self.losses(x, y)
        diverged = divergence.mark(self.diverged_at, losses, self.current_epoch + 1)
        if bool(diverged.any()):  # keep NaN out of the checkpoint saved after this validation
            divergence.freeze(self.net.parameters(), self.trainer.optimizers, diverged)
        signed = (torch.sigmoid(logits) - 0.5) * (2 * y - 1)  # > 0 where the row is right
        correct = (signed > 0) & ~diverged.view(-1, 1, 1)
        solved = correct.flatten(1).all(dim=1)
        if not self.trainer.sanity_checking:
            newly = solved & (self.first_solved < 0)
            self.first_solved[newly] = self.current_epoch + 1
        healthy = signed[~diverged]
        self.solved_with_margin = bool(healthy.numel()) and bool((healthy >= self.hparams.margin).all())
        if bool(diverged.all()):
            self.trainer.should_stop = True  # nothing left to train; train() reports it
        self.log("val/loss", divergence.healthy_mean(losses, diverged))
        self.log("val/acc", correct.float().mean())
        self.log("val/success_rate", solved.float().mean())

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Checkpoints written before divergence tracking have no diverged_at: all healthy.
        state = checkpoint["state_dict"]
        state.setdefault("diverged_at", torch.full_like(state["first_solved"], -1))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return instantiate(self.hparams.optimizer, _convert_="all")(self.parameters())


class StopWhenSolved(pl.Callback):
    """Stop once every member classifies every row right by at least the margin (in probability)."""

    def on_validation_end(self, trainer: pl.Trainer, pl_module: XORModule) -> None:
        if pl_module.solved_with_margin and not trainer.sanity_checking:
            trainer.should_stop = True
