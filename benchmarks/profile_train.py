"""Where does a population run spend its time? train(cfg) under cProfile, grouped into buckets.
A Lightning training step is a block of table epochs (block.py); times are per table epoch.

    python benchmarks/profile_train.py                       # seeds=10000, hidden [8], 300 epochs
    python benchmarks/profile_train.py seeds=1 trainer.max_epochs=1000   # the fixed cost per epoch

Extra arguments are Hydra overrides of the train config. Buckets are cumulative times of the named
functions; cProfile's own overhead inflates small per-call costs, so read them as proportions.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hydra import compose, initialize_config_dir  # noqa: E402

from xor_lightning.base.config_dir import config_dir  # noqa: E402
from xor_lightning.run.train import train  # noqa: E402

# bucket -> (file fragment, function name): cumulative time of that function.
BUCKETS = {
    "epochs: forward + loss": ("xor_lightning/core/module.py", "losses"),
    "epochs: backward + optimizer step": ("xor_lightning/core/module.py", "_step"),
    "epochs: per-epoch facts (observe)": ("xor_lightning/core/facts.py", "observe"),
    "scalars to the loggers": ("xor_lightning/core/epoch_scalars.py", "log_epochs"),
    "checkpoint writing": ("pytorch_lightning/trainer/trainer.py", "save_checkpoint"),
    "pictures: TensorBoard images + histograms": ("xor_lightning/views/tb_visuals.py", "log_visuals"),
}
BLOCKS = ("xor_lightning/core/module.py", "training_step")  # the whole block: the first four buckets and more


def cumulative(stats: pstats.Stats, fragment: str, name: str) -> float:
    return sum(v[3] for (file, _, fn), v in stats.stats.items() if fragment in file and fn == name)


def main() -> None:
    overrides = ["seeds=10000", "model.hidden=[8]", "early_stop.enabled=false", "trainer.max_epochs=300", *sys.argv[1:]]
    with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", ["run_id=profile", f"paths.output_dir={tmp}/out", f"paths.checkpoint_dir={tmp}/ck",
                                f"paths.log_dir={tmp}/logs", *overrides])
        prof = cProfile.Profile()
        prof.enable()
        metrics = train(cfg)
        prof.disable()
    stats = pstats.Stats(prof)
    fit = cumulative(stats, "pytorch_lightning/trainer/trainer.py", "fit")
    epochs = metrics["epochs_trained"]
    print(f"{' '.join(overrides)}: fit {fit:.2f} s under cProfile ({epochs} epochs)")
    secs = {label: cumulative(stats, *where) for label, where in BUCKETS.items()}
    blocks = cumulative(stats, *BLOCKS)
    secs["blocks, rest (loop bookkeeping)"] = blocks - sum(list(secs.values())[:4])
    # Checkpoint writing includes the final last.ckpt that train() writes after fit (one write).
    outside = secs["pictures: TensorBoard images + histograms"] + secs["checkpoint writing"]
    secs["Lightning loop, rest (hooks, loaders, callbacks)"] = fit - blocks - outside
    for label, value in secs.items():
        print(f"  {label:50s} {value:7.2f} s  {1e3 * value / epochs:7.3f} ms/epoch")


if __name__ == "__main__":
    main()
