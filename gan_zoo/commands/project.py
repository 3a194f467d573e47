"""`gan-zoo-project`: the latents of real images, by gradient descent on an image distance (many at once).

    gan-zoo-project ckpt=checkpoints/<name>/<run>/last.ckpt images=my_images out=proj
    gan-zoo-project ckpt=<a StyleGAN run>/last.ckpt images=paintings/early space=w_plus distance=lpips out=early
"""
import sys
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from gan_zoo.api import load_generator
from gan_zoo.commands import cli
from gan_zoo.errors import UserError
from gan_zoo.latent.projection import Projector
from gan_zoo.latent.projection_files import project_folder


def run(cfg: DictConfig) -> Path:
    if not isinstance(cfg.rows, int) or cfg.rows < 0:
        raise UserError(f"rows={cfg.rows!r}: must be an integer >= 0")
    loaded = load_generator(cfg.ckpt, cfg.pretrained, cfg.device)
    out = cli.check_output(cfg.out, cfg.overwrite, "latents.pt", own=loaded.folders)
    # lpips without its weights fails here, before any work
    projector = Projector(space=cfg.space, distance=instantiate(cfg.distance), **cfg.projection)
    result, files = project_folder(loaded.generator, cfg.images, projector, out, cfg.rows, loaded.source)
    print(f"projected {len(files)} images into {cfg.space}: distance {result.start_distances.mean():.4g} -> "
          f"{result.distances.mean():.4g} (mean, {projector.distance.name}); wrote {out}/latents.pt, projection.png, "
          "projection.csv", file=sys.stderr)
    return out


main = cli.command("project", run)


if __name__ == "__main__":
    main()
