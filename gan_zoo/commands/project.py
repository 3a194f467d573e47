"""`gan-zoo-project`: the latents of real images, by gradient descent on an image distance (many at once).

    gan-zoo-project ckpt=checkpoints/<name>/<run>/last.ckpt images=my_images out=proj
    gan-zoo-project ckpt=<a StyleGAN run>/last.ckpt images=paintings/early space=w_plus distance=lpips out=early
"""
import sys
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from gan_zoo.api import load_generator, project_folder, run_folders
from gan_zoo.commands import cli
from gan_zoo.errors import UserError
from gan_zoo.latent.spaces import check_space


def run(cfg: DictConfig) -> Path:
    for key, low in (("steps", 1), ("batch_size", 1), ("rows", 0)):
        if not isinstance(cfg[key], int) or cfg[key] < low:
            raise UserError(f"{key}={cfg[key]!r}: must be an integer >= {low}")
    device = cli.pick_device(cfg.device)
    loaded = load_generator(cfg.ckpt, cfg.pretrained, device)
    out = cli.check_output(cfg.out, cfg.overwrite, "latents.pt", own=run_folders(loaded))
    check_space(loaded.generator, cfg.space)
    distance = instantiate(cfg.distance)  # lpips without its weights fails here, before any work
    result, files = project_folder(loaded, cfg.images, out, cfg.space, distance, cfg.steps, cfg.lr,
                                   cfg.batch_size, cfg.seed, cfg.rows, noise_weight=cfg.noise_weight)
    print(f"projected {len(files)} images into {cfg.space}: distance {result.start_distances.mean():.4g} -> "
          f"{result.distances.mean():.4g} (mean, {distance.name}); wrote {out}/latents.pt, projection.png, "
          "projection.csv", file=sys.stderr)
    return out


main = cli.command("project", run)


if __name__ == "__main__":
    main()
