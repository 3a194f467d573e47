"""The fine-tuning study (issue 33; README "Small data and fine-tuning"), on the shipped data, in one gan-zoo-compare
table: DCGAN, StyleGAN and PGGAN pretrained on the embedded images of nine classes (`bag` held out entirely, 45
kimg), then trained on 200 bag images at an equal budget of 10 kimg, 3 seeds each: from scratch, from scratch + ADA,
fine-tuned, fine-tuned + ADA, fine-tuned + ADA + FreezeD; PGGAN also fine-tuned from a pytorch_GAN_zoo-format file
(netD included) written from its pretrained run, StyleGAN from a stylegan2-ada-pytorch pickle written by the
reference's own code (tests/sg2ada_format.py, needs ../shared/peers) from a second pretraining with the options that
compute what the reference computes. FID, precision and recall against the 300 other bag images (so
copying the 200 does not win), and each run's copying check (C_T against those 300).

    python benchmarks/finetune_study.py --out study             # the whole study (CPU: hours; GPU: far less)
    python benchmarks/finetune_study.py --out study --print     # its commands only, to run by hand
    python benchmarks/finetune_study.py --out /tmp/s --smoke    # every step at tiny size (tests/test_finetune_study.py)

ADA's rows adapt p over 10,000 images (augment.adjust_images=10000), so that p can reach 1 within the budget (its
default, 100,000, lets it move by 0.1 at most in 10 kimg). PGGAN from scratch grows 4x4 -> 32x32 in the first half of
the budget (700 images a phase), then trains at 32x32.
"""
import argparse
import shlex
import subprocess
import sys
from pathlib import Path

MODELS = ("dcgan", "stylegan", "pggan")
ADA = ["augment=ada", "augment.adjust_images=10000"]
# what stylegan2-ada-pytorch's networks compute (conf/model/stylegan.yaml): StyleGAN's second pretraining, written by
# the reference's own classes as a network-snapshot pickle (tests/sg2ada_format.py) for the init=stylegan2-ada: row
REFERENCE_OPTIONS = ["model.generator.rgb_resample=fir", "model.generator.activation_gain=output",
                     "model.discriminator.activation_gain=output"]
FREEZE_D = ["model.module.freeze_d=1"]  # the 32x32 block and fromRGB, of 3 blocks before the head
GROW_FROM_SCRATCH = {"pggan": ["model.module.schedule.images_per_fade=700",
                               "model.module.schedule.images_per_stable=700"]}
SMOKE = {  # every run at a few batches, every evaluation at a few images
    "train": ["budget.max_kimg=0.1", "metrics.evaluate.every_n_epochs=1", "metrics.evaluate.evaluator.num_fake=64",
              "metrics.evaluate.evaluator.num_real=64", "metrics.evaluate.evaluator.kid_subset_size=32",
              "metrics.evaluate.evaluator.batch_size=32", "callbacks.progress_bar.refresh_rate=0"],
    "eval": ["memorization_num=64"],
}


def pretrained(out: Path, model: str) -> Path:
    """The pretrained run's last checkpoint."""
    return out / "checkpoints" / "pretrain" / model / "last.ckpt"


def rows(out: Path, model: str) -> dict[str, list[str]]:
    """The study's rows of one model: their settings besides the seed."""
    scratch = [f"experiment=compare/{model}", "fair_setting=embedded_bag200", *GROW_FROM_SCRATCH.get(model, [])]
    tuned = ["experiment=finetune/embedded", f"init={pretrained(out, model)}"]
    variants = {"scratch": scratch, "scratch_ada": [*scratch, *ADA], "finetuned": tuned, "finetuned_ada": [*tuned, *ADA],
                "finetuned_ada_freezed": [*tuned, *ADA, *FREEZE_D]}
    if model == "pggan":  # the same pretrained networks, through a file in pytorch_GAN_zoo's format (G, avgG, netD)
        variants["finetuned_pytorch_gan_zoo"] = ["experiment=finetune/embedded",
                                                 f"init=pytorch_gan_zoo:{out / 'pggan_pytorch_gan_zoo.pth'}"]
    if model == "stylegan":  # networks pretrained with the reference's options, through a stylegan2-ada pickle
        variants["finetuned_stylegan2_ada"] = ["experiment=finetune/embedded",
                                               f"init=stylegan2-ada:{out / 'stylegan_stylegan2_ada.pkl'}"]
    return variants


def commands(out: Path, models=MODELS, seeds: str = "0,1,2", smoke: bool = False) -> list[tuple[str, list[str]]]:
    """(module, arguments) of every step, in order: python -m <module> <arguments>."""
    paths = [f"paths.experiments={out / 'experiments'}", f"paths.checkpoints={out / 'checkpoints'}"]
    tiny = SMOKE["train"] if smoke else []
    # one run per model (a -m sweep over experiment= cannot override the fair_setting its experiments choose)
    pretrainings = [(model, model, []) for model in models]
    if "stylegan" in models:
        pretrainings.append(("stylegan", "stylegan_reference_options", REFERENCE_OPTIONS))
    steps = [("gan_zoo.commands.train", [f"experiment=compare/{model}", "fair_setting=embedded_pretrain", "seed=0",
                                         *options, *paths, *tiny,
                                         f"hydra.run.dir={out / 'experiments' / 'pretrain' / name}"])
             for model, name, options in pretrainings]
    if "pggan" in models:
        steps.append(("tests.pgan_format", [str(pretrained(out, "pggan")), str(out / "pggan_pytorch_gan_zoo.pth")]))
    if "stylegan" in models:
        steps.append(("tests.sg2ada_format", [str(pretrained(out, "stylegan_reference_options")),
                                              str(out / "stylegan_stylegan2_ada.pkl")]))
    for model in models:
        for row, settings in rows(out, model).items():
            steps.append(("gan_zoo.commands.train", ["-m", *settings, f"seed={seeds}", *paths, *tiny,
                                                     f"hydra.sweep.dir={out / 'experiments' / 'bag' / f'{model}_{row}'}",
                                                     "hydra.sweep.subdir=seed-${seed}"]))
    checkpoints = ",".join(str(out / "checkpoints" / "bag" / f"{model}_{row}" / f"seed-{seed}" / "last.ckpt")
                           for model in models for row in rows(out, model) for seed in seeds.split(","))
    steps.append(("gan_zoo.commands.evaluate", ["-m", f"ckpt={checkpoints}", "memorization=true",
                                                f"paths.cache={out / 'cache'}", *(SMOKE["eval"] if smoke else []),
                                                f"hydra.sweep.dir={out / 'evaluations'}"]))
    steps.append(("gan_zoo.commands.compare", [str(out / "experiments" / "bag"), f"out={out / 'comparison'}"]))
    return steps


def shown(module: str, args: list[str]) -> str:
    name = {"gan_zoo.commands.train": "gan-zoo-train", "gan_zoo.commands.evaluate": "gan-zoo-eval",
            "gan_zoo.commands.compare": "gan-zoo-compare"}.get(module, f"python -m {module}")
    return " ".join([name, *map(shlex.quote, args)])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the study's folder (runs, checkpoints, the comparison)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: dcgan,stylegan,pggan")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--smoke", action="store_true", help="tiny budgets and evaluations: checks every step runs")
    parser.add_argument("--print", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    out = Path(args.out).expanduser().resolve()
    steps = commands(out, [m for m in args.models.split(",") if m], args.seeds, args.smoke)
    for module, arguments in steps:
        print(shown(module, arguments), flush=True)
        if not args.print:
            subprocess.run([sys.executable, "-m", module, *arguments], check=True,
                           cwd=Path(__file__).resolve().parents[1])


if __name__ == "__main__":
    main()
