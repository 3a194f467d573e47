"""NVlabs' stylegan2-ada-pytorch trained on the comparison's data and budget, at compare/stylegan_sg2ada's sizes;
2,000 PNGs from its averaged generator and 2,000 from its raw one, scored under the comparison's protocol.

    python benchmarks/peers/stylegan2_ada.py --out experiments/peers/sg2ada_s0 --seed 0   # 45 kimg
    python benchmarks/peers/stylegan2_ada.py --out /tmp/sg2ada_smoke --smoke                # a few steps, tiny

Their source comes from the pinned archive in ../shared/peers/ (or --checkout, a checkout at the pinned commit) and
is extracted into a scratch folder for the run: nothing of theirs is kept in this repository (NVIDIA Source Code
License-NC: research and evaluation use). It trains through their own path: train.py's setup_training_loop_kwargs
with `--cfg=auto --batch=32 --aug=noaug --fp32=1 --metrics=none` (what `python train.py` would run), then
training_loop.training_loop, with these settings changed in the options it returns (its command line does not
expose them):
- z_dim = w_dim = 128 (train.py fixes 512) and channel_base 2048, channel_max 128 for G and D (auto: 16384, 512):
  gan_zoo's channel counts (compare/stylegan: fmap_base 2048, fmap_max 128).
- no image or network snapshots (their maintenance, outside the training time anyway); the networks come back from
  the call instead (patch 5), so no pickle is written or read.
- total_kimg from --kimg (their option takes whole kimg only; --smoke trains a fraction of one).
What 'auto' gives at 32x32, batch 32, unchanged: mapping 2 layers, R1 gamma 0.0002 * 32^2 / 32 = 0.0064, lr 0.0025,
betas (0, 0.99), lazy R1 every 16 and path length (weight 2) every 4, EMA half-life 10 kimg with ramp-up 0.05,
style mixing 0.9, minibatch-stddev groups of 4; FIR resampling and their G 'skip' / D 'resnet' architectures always.

Run-time patches to the extracted copy, each a textual substitution that must match the pinned source:
0. torch_utils/misc.py, InfiniteSampler: torch.utils.data.Sampler.__init__ takes no data source since torch 2.2.
training/training_loop.py assumes CUDA:
1. device 'cuda' -> 'cpu'.
2. torch.cuda.Event (their per-phase GPU timing) -> None: CUDA events need CUDA; the loop skips phases without.
3. `.pin_memory()` of the latent labels dropped: pinning needs an accelerator.
4. torch.cuda.max_memory_allocated / reset_peak_memory_stats (the status line's GPU memory) -> 0 / nothing.
5. training_loop returns G, G_ema and D at its end (for the PNGs and the parameter counts).
Their custom ops (bias_act, upfirdn2d, conv2d_gradfix) take their pure-PyTorch paths on CPU by themselves.

Training images/s: their own per-tick timing (stats.jsonl, Timing/sec_per_tick: the batches of a tick, without its
maintenance), over the ticks after the first (tick 0 is the first batch alone, with start-up costs).
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from gan_zoo.commands.cli import report_user_error

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    STYLEGAN2_ADA,
    Patch,
    export_data,
    finish,
    harness_arguments,
    output_folder,
    peak_memory_gib,
    prepare,
    reset_peak_memory,
)

SMOKE_IMAGES = 256  # --smoke trains on the first images only (writing 5,000 PNGs is a third of its time)
LOOP = "training/training_loop.py"
PATCHES = [
    Patch("torch_utils/misc.py", "        super().__init__(dataset)\n", "        super().__init__()\n"),
    Patch(LOOP, "device = torch.device('cuda', rank)", "device = torch.device('cpu')"),
    Patch(LOOP, "torch.cuda.Event(enable_timing=True)", "None", count=2),
    Patch(LOOP, "np.stack(all_gen_c)).pin_memory().to(device)", "np.stack(all_gen_c)).to(device)"),
    Patch(LOOP, "torch.cuda.max_memory_allocated(device) / 2**30", "0"),
    Patch(LOOP, "        torch.cuda.reset_peak_memory_stats()\n", ""),
    Patch(LOOP, "        print('Exiting...')\n", "        print('Exiting...')\n    return G, G_ema, D\n"),
]
SIZES = {"z_dim": 128, "w_dim": 128, "channel_base": 2048, "channel_max": 128}  # gan_zoo's compare/stylegan


def options(train, data: Path, run_dir: Path, kimg: float, seed: int, sizes: dict, batch: int = 32):
    """Their training options for `python train.py --cfg=auto --batch=32 --aug=noaug --fp32=1 --metrics=none`,
    at gan_zoo's sizes."""
    _, args = train.setup_training_loop_kwargs(gpus=1, metrics=[], seed=seed, data=str(data), cfg="auto",
                                               batch=batch, aug="noaug", fp32=True, workers=1)
    args.G_kwargs.z_dim, args.G_kwargs.w_dim = sizes["z_dim"], sizes["w_dim"]
    for net in (args.G_kwargs.synthesis_kwargs, args.D_kwargs):
        net.channel_base, net.channel_max = sizes["channel_base"], sizes["channel_max"]
    args.image_snapshot_ticks = args.network_snapshot_ticks = None
    args.total_kimg, args.run_dir = kimg, str(run_dir)
    return args


def tick_rate(stats: Path) -> tuple[int, float]:
    """(images, seconds) of training in their stats.jsonl, the ticks after the first (all of them if only one)."""
    ticks = [json.loads(line) for line in stats.read_text().splitlines()]
    kimg = [t["Progress/kimg"]["mean"] for t in ticks]
    seconds = [t["Timing/sec_per_tick"]["mean"] for t in ticks]
    first = 1 if len(ticks) > 1 else 0
    return round(1000 * (kimg[-1] - (kimg[first - 1] if first else 0))), sum(seconds[first:])


def main():
    args = harness_arguments(__doc__, "stylegan2-ada-pytorch",
                             out_help="result.json, ema/ and raw/ PNGs, their run folder, scores")
    sizes = dict(SIZES, z_dim=16, w_dim=16, channel_base=128, channel_max=16) if args.smoke else SIZES
    kimg, count = (0.128, 64) if args.smoke else (args.kimg, args.num_images)
    with tempfile.TemporaryDirectory() as temp:
        scratch = Path(args.scratch or temp)
        source = prepare(STYLEGAN2_ADA, scratch, PATCHES, args.archive, args.checkout)
        out = output_folder(args.out)  # made once their source is there: a refused start leaves no folder
        data = export_data(scratch / "data", count=SMOKE_IMAGES if args.smoke else None)
        sys.path.insert(0, str(source))
        import dnnlib
        import train
        from torch_utils import training_stats
        from training import training_loop

        run_dir = out / "run"
        run_dir.mkdir(exist_ok=True)
        settings = options(train, data, run_dir, kimg, args.seed, sizes)
        (run_dir / "training_options.json").write_text(json.dumps(settings, indent=2) + "\n")
        dnnlib.util.Logger(file_name=str(run_dir / "log.txt"), file_mode="w", should_flush=True)
        training_stats.init_multiprocessing(rank=0, sync_device=None)  # as their train.py's subprocess_fn
        reset_peak_memory()
        start = time.perf_counter()
        G, G_ema, D = training_loop.training_loop(rank=0, **settings)
        wall, peak = time.perf_counter() - start, peak_memory_gib()
    images, seconds = tick_rate(run_dir / "stats.jsonl")
    G, G_ema = G.eval(), G_ema.eval()  # the raw G too: no update of its tracked average w while sampling
    samplers = {name: (lambda n, net=net: net(torch.randn(n, net.z_dim), torch.zeros(n, net.c_dim)))  # noise: random
                for name, net in (("ema", G_ema), ("raw", G))}
    result = {"reference": STYLEGAN2_ADA.name, "commit": STYLEGAN2_ADA.commit, "seed": args.seed, "kimg": kimg,
              "smoke": args.smoke, "train_images_per_sec": images / seconds, "timed_images": images,
              "timed_seconds": seconds, "wall_seconds_with_startup": wall, "peak_memory_gib": peak,
              "g_params": sum(p.numel() for p in G.parameters()), "d_params": sum(p.numel() for p in D.parameters()),
              "options": json.loads(json.dumps(settings))}
    finish(out, result, samplers, count, args.smoke, not args.no_score)

if __name__ == "__main__":
    with report_user_error():  # bad input (a source, an --out folder): one line, exit 2
        main()
