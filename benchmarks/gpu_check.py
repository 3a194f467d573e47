"""One command for a short GPU window: speed, metrics features and exact resume on the GPU, as Markdown.

    python benchmarks/gpu_check.py --out gpu_check.md        # one GPU, at most ~8 minutes
    python benchmarks/gpu_check.py --smoke                   # on CPU in about a minute (the test suite runs this)

(a) trains each model (embedded-preset widths) for --steps batches in 32-true, bf16-mixed and 16-mixed (StyleGAN
    with conv_clamp=256), with and without torch.compile, at 32/64/128/256 px: an img/s table per model;
(b) extracts FID features of the same images on the GPU and on the CPU (the shipped Fashion-MNIST CNN; InceptionV3
    when --inception-weights or the shared data's file is there) and prints the largest difference;
(c) exact resume with trainer.deterministic=true: 2 epochs straight against 1 epoch + resume, every weight equal;
(d) the DDP test when there are 2 or more GPUs.
--smoke: CPU, 16 px, 2 timed steps, 32-true and bf16-mixed, no compile, tiny widths for (c).
"""
import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from timing import fit
from torch.utils.data import DataLoader, TensorDataset
from zoo_throughput import models

REPO = Path(__file__).resolve().parents[1]
SHARED_INCEPTION = REPO.parent / "shared" / "data" / "inception-2015-12-05-fid-only.pth"


def speed(device: str, resolutions, precisions, compile_options, steps: int, batch: int) -> list[str]:
    rows = ["| model | px | precision | compile | img/s | warm-up s |", "|---|---|---|---|---|---|"]
    for resolution in resolutions:
        data = torch.rand(batch * (steps + 2), 3, resolution, resolution) * 2 - 1
        loader = DataLoader(TensorDataset(data), batch_size=batch, drop_last=True)
        for precision in precisions:
            clamp = 256.0 if precision == "16-mixed" else None
            for name, build in models(resolution, 3, conv_clamp=clamp):
                for compiled in compile_options:
                    torch.manual_seed(0)
                    module = build()
                    if compiled:
                        module.generator.compile()
                        module.discriminator.compile()
                    try:
                        timer = fit(module, loader, steps, 2, precision, "gpu" if device == "cuda" else "cpu")
                        cells = f"{steps * batch / (timer.end - timer.start):.1f} | {timer.warmup_seconds():.1f}"
                    except Exception as e:  # one failing combination is a row of the report, not the end of it
                        cells = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:80]} |"
                    rows.append(f"| {name} | {resolution} | {precision} | {'yes' if compiled else 'no'} | {cells} |")
                    print(rows[-1], flush=True)
    return rows


def features(device: str, inception_weights: str | None) -> list[str]:
    from gan_zoo.metrics.extractors import FashionClassifierExtractor, InceptionExtractor
    from gan_zoo.metrics.features import extract_features

    images = torch.rand(16, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    extractors = [("Fashion-MNIST CNN", FashionClassifierExtractor)]
    if inception_weights and Path(inception_weights).is_file():
        extractors.append(("InceptionV3", lambda: InceptionExtractor(weights_path=inception_weights)))
    rows = ["| extractor | features | max abs difference CPU vs " + device + " | max abs value |", "|---|---|---|---|"]
    for name, build in extractors:
        extractor = build().eval()
        on_cpu = extract_features(extractor, images, device="cpu")
        on_device = extract_features(extractor, images, device=device)
        difference, peak = (on_cpu - on_device).abs().max(), on_cpu.abs().max()
        rows.append(f"| {name} | {on_cpu.shape[1]} | {difference:.2e} | {peak:.2e} |")
    if len(extractors) == 1:
        rows.append("| InceptionV3 | | skipped: no weights file (--inception-weights) | |")
    return rows


def train(args: list[str], cwd: str, accelerator: str) -> None:
    command = [sys.executable, "-m", "gan_zoo.commands.train", *args, f"trainer.accelerator={accelerator}",
               "trainer.deterministic=true", "metrics=none", f"paths.experiments={cwd}/experiments",
               f"paths.checkpoints={cwd}/checkpoints", f"paths.cache={cwd}/cache"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}  # deterministic cuBLAS
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no output")


def exact_resume(device: str, smoke: bool) -> list[str]:
    accelerator = "gpu" if device == "cuda" else "cpu"
    tiny = ["data.resolution=16", "data.batch_size=16", "trainer.limit_train_batches=4", "model.generator.width=8",
            "model.discriminator.width=8", "model.generator.latent_dim=16"]
    size = tiny if smoke else ["trainer.limit_train_batches=20"]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            train([*size, "name=straight", "trainer.max_epochs=2"], tmp, accelerator)
            train([*size, "name=resumed", "trainer.max_epochs=1"], tmp, accelerator)
            resumed = next(Path(tmp, "checkpoints", "resumed").glob("*/last.ckpt"))
            train([*size, "trainer.max_epochs=2", f"ckpt={resumed}"], tmp, accelerator)
        except RuntimeError as e:
            return [f"exact resume: failed to run ({e})"]
        states = [torch.load(next(Path(tmp, "checkpoints", name).glob("*/last.ckpt")), weights_only=True)["state_dict"]
                  for name in ("straight", "resumed")]
    differing = [k for k in states[0] if not torch.equal(states[0][k], states[1][k])]
    verdict = f"{len(differing)} tensors differ, e.g. {differing[0]}" if differing else "every weight and buffer equal"
    return [f"exact resume (DCGAN, {device}, deterministic): {verdict}"]


def ddp(device: str) -> list[str]:
    count = torch.cuda.device_count() if device == "cuda" else 0
    if count < 2:
        return [f"DDP: skipped ({count} GPU{'s' if count != 1 else ''}; needs 2 or more)"]
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "tests/test_launchers.py", "-k", "ddp"],
                            cwd=REPO, capture_output=True, text=True)
    return [f"DDP tests: {result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.returncode}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: checks the check itself")
    parser.add_argument("--steps", type=int, default=None, help="timed batches per combination (default 30, smoke 2)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--inception-weights", default=str(SHARED_INCEPTION))
    parser.add_argument("--out", default=None, help="also write the Markdown report to this file")
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    device = "cpu" if args.smoke or not torch.cuda.is_available() else "cuda"
    if not args.smoke and device == "cpu":
        sys.exit("gpu_check: no CUDA GPU here; run it on a GPU machine, or add --smoke to check the check on CPU")
    start = time.perf_counter()
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    report = [f"# GPU check: {name}, torch {torch.__version__}{' (smoke)' if args.smoke else ''}", "", "## Speed"]
    if args.smoke:
        report += speed(device, [16], ["32-true", "bf16-mixed"], [False], args.steps or 2, 8)
    else:
        report += speed(device, [32, 64, 128, 256], ["32-true", "bf16-mixed", "16-mixed"], [False, True],
                        args.steps or 30, args.batch)
    report += ["", "## Features on " + device + " against CPU", *features(device, args.inception_weights)]
    report += ["", "## Resume and DDP", exact_resume(device, args.smoke)[0], ddp(device)[0]]
    report += ["", f"{time.perf_counter() - start:.0f} s in all."]
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if "failed" in text or "tensors differ" in text:
        sys.exit("gpu_check: a check failed (see the report above)")


if __name__ == "__main__":
    main()
