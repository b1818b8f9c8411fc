"""last.ckpt is the state training ended in; best.ckpt the epoch with the lowest val/loss."""

import torch

from xor_lightning.train import train


def test_last_checkpoint_holds_the_final_epoch_even_when_best_is_earlier(train_cfg):
    # SGD at lr 30 diverges: val/loss is lowest in the first epoch, training goes on to epoch 6.
    cfg = train_cfg("seeds=4", "optimizer=sgd", "optimizer.lr=30", "early_stop.enabled=false",
                    "trainer.max_epochs=6", "torch_threads=1")
    metrics = train(cfg)
    best = torch.load(metrics["best_checkpoint"], weights_only=True)
    last = torch.load(metrics["last_checkpoint"], weights_only=True)
    assert (best["epoch"], last["epoch"], last["global_step"]) == (0, 6, 6)
    assert not torch.equal(best["state_dict"]["net.weights.0"], last["state_dict"]["net.weights.0"])
