"""`gan-zoo-morph`: from a start set of images to an end set, through the generator's latent space, with an
evaluation of the generated intermediates against a real middle set.

    gan-zoo-morph ckpt=... start=paintings/early end=paintings/late middle=paintings/middle out=morph
"""
import sys

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan_zoo.api import load_generator, morph, run_folders
from gan_zoo.commands import cli
from gan_zoo.errors import UserError
from gan_zoo.latent.projection import Projector
from gan_zoo.latent.spaces import check_space


def run(cfg: DictConfig) -> dict:
    if not isinstance(cfg.gif_frames, int) or isinstance(cfg.gif_frames, bool) or cfg.gif_frames < 1:
        raise UserError(f"gif_frames={cfg.gif_frames!r}: must be an integer >= 1 (frames of each pair's GIF)")
    t = cli.renamed(cfg, "steps", "t")
    t = OmegaConf.to_container(t) if OmegaConf.is_list(t) else [t]
    loaded = load_generator(cfg.ckpt, cfg.pretrained, cli.pick_device(cfg.device))
    out = cli.check_output(cfg.out, cfg.overwrite, "morph.json", own=run_folders(loaded))
    check_space(loaded.generator, cfg.space)
    # lpips without its weights fails here, before any work
    projector = Projector(space=cfg.space, distance=instantiate(cfg.distance), **cfg.projection)
    if cfg.media_pairs < 0:
        raise UserError(f"media_pairs={cfg.media_pairs}: must be >= 0")
    summary = morph(loaded, cfg.start, cfg.end, out, projector, cfg.middle, cfg.pairing, t, cfg.method,
                    cfg.features, cfg.media_pairs, cfg.gif_frames)
    reference = "middle" if cfg.middle else "start"
    fids = ", ".join(f"t={r['t']:g}: {r['fid']:.3g}" for r in summary["distances"]
                     if r["set"] == "generated" and r["reference"] == reference)
    print(f"morphed {len(summary['pairs'])} pairs; FID to the real {reference} set: {fids}; wrote {out}/morph.csv, "
          "morph.json, morph.png, t_*/, strips/, gifs/", file=sys.stderr)
    return summary


main = cli.command("morph", run)


if __name__ == "__main__":
    main()
