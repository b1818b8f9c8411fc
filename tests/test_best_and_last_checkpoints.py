"""last.ckpt is the state training ended in; best.ckpt holds each member's own best weights."""

import torch

from xor_lightning.run.train import train


def test_best_holds_each_members_best_and_last_the_final_state(train_cfg):
    # SGD at lr 30 overshoots: most members' losses are lowest early, training goes on to epoch 6.
    cfg = train_cfg("seeds=4", "optimizer=sgd", "optimizer.lr=30", "early_stop.enabled=false",
                    "trainer.max_epochs=6", "torch_threads=1")
    metrics = train(cfg)
    best = torch.load(metrics["best_checkpoint"], weights_only=True)
    last = torch.load(metrics["last_checkpoint"], weights_only=True)
    assert int(last["state_dict"]["epochs_done"]) == 6 and "optimizer_states" in last
    assert "optimizer_states" not in best  # each member's best is from its own epoch: no state to resume
    best_epochs = last["state_dict"]["facts.best_epoch"]
    assert best_epochs.min() >= 1 and best_epochs.max() <= 6 and best_epochs.min() < 6
    for net_name, kept in (("weights", "weight"), ("biases", "bias")):
        for j in (0, 1):
            assert torch.equal(best["state_dict"][f"net.{net_name}.{j}"], last["state_dict"][f"facts.best_{kept}{j}"])
    assert not torch.equal(best["state_dict"]["net.weights.0"], last["state_dict"]["net.weights.0"])
