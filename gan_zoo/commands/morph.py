"""`gan-zoo-morph`: from a start set of images to an end set, through the generator's latent space, with an
evaluation of the generated intermediates against a real middle set.

    gan-zoo-morph ckpt=... start=paintings/early end=paintings/late middle=paintings/middle out=morph
"""
import sys

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan_zoo.api import load_generator, morph
from gan_zoo.commands import cli
from gan_zoo.latent.projection import Projector


def run(cfg: DictConfig) -> dict:
    t = OmegaConf.to_container(cfg.t) if OmegaConf.is_list(cfg.t) else [cfg.t]
    loaded = load_generator(cfg.ckpt, cfg.pretrained, cfg.device)
    out = cli.check_output(cfg.out, cfg.overwrite, "morph.json", own=loaded.folders)
    # lpips without its weights fails here, before any work
    projector = Projector(space=cfg.space, distance=instantiate(cfg.distance), **cfg.projection)
    summary = morph(loaded, cfg.start, cfg.end, out, projector, cfg.middle, cfg.pairing, t, cfg.method, cfg.features,
                    cfg.media_pairs, cfg.gif_frames)
    reference = "middle" if cfg.middle else "start"
    fids = ", ".join(f"t={r['t']:g}: {r['fid']:.3g}" for r in summary["distances"]
                     if r["set"] == "generated" and r["reference"] == reference)
    print(f"morphed {len(summary['pairs'])} pairs; FID to the real {reference} set: {fids}; wrote {out}/morph.csv, "
          "morph.json, morph.png, t_*/, strips/, gifs/", file=sys.stderr)
    return summary


main = cli.command("morph", run)


if __name__ == "__main__":
    main()
