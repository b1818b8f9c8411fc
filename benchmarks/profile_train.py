"""Where does a population run spend its time? train(cfg) under cProfile, grouped into buckets.

    python benchmarks/profile_train.py                       # seeds=10000, hidden [8], 300 epochs
    python benchmarks/profile_train.py seeds=1 trainer.max_epochs=1000   # Lightning's fixed cost per epoch

Extra arguments are Hydra overrides of the train config. Buckets are cumulative times of the named
functions (they do not nest into each other), so "Lightning loop, rest" is what the loop itself costs.
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

from xor_lightning.config_dir import config_dir  # noqa: E402
from xor_lightning.train import train  # noqa: E402

# bucket -> (file fragment, function name): cumulative time of that function.
BUCKETS = {
    "training step: forward + loss + 1 log": ("xor_lightning/module.py", "training_step"),
    "backward": ("torch/_tensor.py", "backward"),
    "optimizer step (Adam; runs the two above)": ("torch/optim/adam.py", "step"),
    "validation step: forward + metrics + 3 logs": ("xor_lightning/module.py", "validation_step"),
    "self.log (inside the steps above)": ("pytorch_lightning/core/module.py", "log"),
    "checkpoint writing": ("callbacks/model_checkpoint.py", "_save_checkpoint"),
    "visuals: TensorBoard images + histograms": ("xor_lightning/tb_visuals.py", "log_visuals"),
}


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
    for label, value in secs.items():
        print(f"  {label:45s} {value:7.2f} s  {1e3 * value / epochs:7.2f} ms/epoch")
    # Adam's step calls the closure (training step + backward); logs happen inside the steps.
    names = list(BUCKETS)
    rest = fit - secs[names[2]] - secs[names[3]] - secs[names[5]] - secs[names[6]]
    print(f"  {'Lightning loop, rest (hooks, logging, loaders)':45s} {rest:7.2f} s  {1e3 * rest / epochs:7.2f} ms/epoch")


if __name__ == "__main__":
    main()
