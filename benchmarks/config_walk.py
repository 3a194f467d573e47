"""How often control climbs back while gan-zoo-morph's config is followed through the code.

Runs the command's body (`gan_zoo.commands.morph.run`) on a tiny DCGAN trained here, and records the modules of the
gan_zoo functions it calls down to `--depth` calls below the body (consecutive repeats merged). "Climbs back" counts
each move into a module that control had already left; "api visits" how often the walk enters gan_zoo/api.py.

    python benchmarks/config_walk.py            # prints the walk and the two counts
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path


def walk(body, argument, depth: int) -> list[str]:
    sequence, stack = [], []

    def module_of(frame):
        name = frame.f_globals.get("__name__", "")
        return name if name.startswith("gan_zoo") else None

    def profile(frame, event, arg):
        if event == "call" and (module := module_of(frame)) is not None:
            stack.append(frame)
            if len(stack) <= depth + 1 and (not sequence or sequence[-1] != module):
                sequence.append(module)
        elif event == "return" and stack and stack[-1] is frame:
            stack.pop()
            if stack and len(stack) <= depth + 1 and sequence[-1] != (caller := module_of(stack[-1])):
                sequence.append(caller)

    sys.setprofile(profile)
    try:
        body(argument)
    finally:
        sys.setprofile(None)
    return sequence


def climbs(sequence: list[str]) -> int:
    return sum(module in sequence[:i] for i, module in enumerate(sequence))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=1, help="calls below the command's body that are followed")
    args = parser.parse_args()
    from hydra import compose, initialize_config_dir

    from gan_zoo.commands import cli, morph

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        tiny = ["data.resolution=16", "data.batch_size=16", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
                "model.generator.width=8", "model.generator.latent_dim=16", "model.discriminator.width=8",
                "metrics.evaluate.evaluator.num_real=64", "metrics.evaluate.evaluator.num_fake=64",
                "metrics.evaluate.evaluator.kid_subset_size=32", f"paths.cache={root}/cache",
                "callbacks.progress_bar.refresh_rate=0"]
        subprocess.run([sys.executable, "-m", "gan_zoo.commands.train", *tiny], cwd=root, check=True,
                       capture_output=True)
        subprocess.run([sys.executable, "-m", "gan_zoo.data.export_embedded", "--out", "sets", "--classes", "sandal",
                        "ankle_boot", "--num", "4"], cwd=root, check=True, capture_output=True)
        (ckpt,) = root.rglob("last.ckpt")
        with initialize_config_dir(config_dir=cli.CONFIG_DIR, version_base="1.3"):
            cfg = compose("morph", overrides=[f"ckpt={ckpt}", f"start={root}/sets/sandal", f"end={root}/sets/ankle_boot",
                                              f"out={root}/morph", "projection.steps=2", "t=[0,1]", "gif_frames=2",
                                              "media_pairs=1", "device=cpu"])
        if hasattr(cli, "settle"):  # what cli.command does before every body
            cli.settle(cfg, "morph")
        sequence = walk(morph.run, cfg, args.depth)
    print(" -> ".join(m.removeprefix("gan_zoo.") for m in sequence))
    print(f"climbs back: {climbs(sequence)}, api visits: {sequence.count('gan_zoo.api')}, steps: {len(sequence)}")


if __name__ == "__main__":
    main()
