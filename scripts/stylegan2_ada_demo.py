"""A network built and pickled by NVIDIA's stylegan2-ada-pytorch, opened by gan_zoo: the pickle for the README's
commands, the figure docs/stylegan2_ada/parity.png (the reference's images beside gan_zoo's and their difference)
and the largest differences for the configurations of tests/test_stylegan2_ada.py (docs/stylegan2_ada/parity.json).

The reference is extracted from ../shared/peers into a temporary folder and imported from there (never copied into
this repository; tests/stylegan2_ada_reference.py); gan_zoo reads the pickle without it.

    python scripts/stylegan2_ada_demo.py --out demo      # writes demo/network-snapshot.pkl
    gan-zoo-generate ckpt=demo/network-snapshot.pkl psi=0.7 out=demo/samples.png
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gan_zoo.contract import one_hot  # noqa: E402
from gan_zoo.pretrained.stylegan2_ada import load  # noqa: E402
from tests.stylegan2_ada_reference import build, reference, snapshot  # noqa: E402
from tests.test_stylegan2_ada import CONFIGS  # noqa: E402

DEMO = dict(resolution=32, channels=3, mapping_layers=2, mbstd_group_size=4, channel_base=1024, channel_max=32,
            z_dim=32, w_dim=32)  # the `auto` config's settings, small (morph's pixel-space FID stays quick)


def compare(networks, augment, dnnlib, folder: Path, name: str, config: dict, n: int = 8) -> dict:
    """Pickle the reference's networks, import them, and return both outputs and the largest differences."""
    G, G_ema, D = build(networks, dnnlib, **config)
    path = snapshot(folder / f"{name}.pkl", G, G_ema, D, augment.AugmentPipe(xflip=1), dnnlib,
                    config["resolution"], G.c_dim > 0)
    imported = load(str(path))
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(0))
    c = one_hot(torch.arange(n) % G.c_dim, G.c_dim) if G.c_dim else torch.zeros(n, 0)
    ours_c = c if G.c_dim else None
    out = {"path": path}
    with torch.no_grad():
        out["mapping"] = (G_ema.mapping(z, c)[:, 0] - imported.generator.mapping(z, ours_c)).abs().max().item()
        for psi in (1.0, 0.7):
            theirs = G_ema(z, c, truncation_psi=psi, noise_mode="const", force_fp32=True)
            ours = imported.generator(z, ours_c, psi=psi, noise_mode="const")
            out[f"G psi={psi}"] = (theirs - ours).abs().max().item()
            out[f"images psi={psi}"] = (theirs, ours)
        logits = D(theirs, c, force_fp32=True).flatten()
        out["D"] = (logits - imported.discriminator(theirs, ours_c)).abs().max().item()
    return out


def figure(theirs: torch.Tensor, ours: torch.Tensor, path: Path) -> float:
    """Rows: the reference's images, gan_zoo's, |difference| x 10^4 (white = 1e-4); a caption with the max."""
    diff = (theirs - ours).abs()
    rows = torch.cat([theirs.clamp(-1, 1), ours.clamp(-1, 1), (diff * 1e4).clamp(0, 1) * 2 - 1])
    rows = torch.nn.functional.interpolate(rows, scale_factor=max(1, 64 // rows.shape[-1]), mode="nearest")
    grid = make_grid(rows, nrow=len(theirs), normalize=True, value_range=(-1, 1), padding=2, pad_value=1)
    image = Image.fromarray(grid.mul(255).round().byte().permute(1, 2, 0).numpy())
    canvas = Image.new("RGB", (image.width, image.height + 30), "white")
    canvas.paste(image, (0, 30))
    ImageDraw.Draw(canvas).text((4, 4), f"stylegan2-ada-pytorch (top), gan_zoo (middle), |difference| x 1e4 "
                                        f"(bottom): max {diff.max().item():.1e}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return diff.max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo", help="folder for network-snapshot.pkl")
    parser.add_argument("--docs", default=str(REPO / "docs" / "stylegan2_ada"), help="folder for the figure")
    args = parser.parse_args()
    out, docs = Path(args.out), Path(args.docs)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, reference(Path(tmp)) as (networks, augment, dnnlib):
        demo = compare(networks, augment, dnnlib, out, "network-snapshot", DEMO)
        largest = figure(*demo["images psi=0.7"], docs / "parity.png")
        table = {name: {k: v for k, v in compare(networks, augment, dnnlib, Path(tmp), name, config).items()
                        if k in ("mapping", "G psi=1.0", "G psi=0.7", "D")} for name, config in CONFIGS.items()}
    (docs / "parity.json").write_text(json.dumps({"demo (32x32 RGB, psi 0.7)": largest, **table}, indent=2) + "\n")
    print(f"wrote {demo['path']}, {docs / 'parity.png'} (max difference {largest:.1e})")
    for name, row in table.items():
        print(f"{name:10s} " + "  ".join(f"{k} {v:.1e}" for k, v in row.items()))


if __name__ == "__main__":
    main()
