"""`gan-zoo-export`: a trained generator as a folder to share (safetensors weights, config.json, a model card).

    gan-zoo-export ckpt=checkpoints/<name>/<run>/last.ckpt out=my_generator          # the EMA generator
    gan-zoo-export ckpt=... which=raw out=my_generator_raw                           # the training generator
    gan-zoo-export pretrained=pytorch_gan_zoo:celebAHQ-256 out=pgan_celebahq256
    gan-zoo-export ckpt=... out=my_generator push_to=<user>/<repo>                   # + upload (pip install huggingface_hub)

Loaded by gan-zoo-generate shared=<folder>, gan_zoo.api.load_generator(shared=<folder>) and
torch.hub.load(<repo>, "generator", shared=<folder>).
"""
import sys
from pathlib import Path

from omegaconf import DictConfig

from gan_zoo.api import generate_images, load_generator
from gan_zoo.commands import cli
from gan_zoo.errors import UserError
from gan_zoo.runs.shared_model import WEIGHTS, checkpoint_facts, describe, save


def push(folder: Path, repo_id: str) -> str:
    """Upload the folder to a Hugging Face Hub model repository (created if missing); returns its address."""
    from huggingface_hub import HfApi

    try:
        hub = HfApi()
        hub.create_repo(repo_id, exist_ok=True)
        hub.upload_folder(folder_path=str(folder), repo_id=repo_id)
    except Exception as e:  # offline, not logged in, no rights: the folder is written all the same
        raise UserError(f"could not push '{folder}' to the Hub repository '{repo_id}' ({type(e).__name__}): check "
                        "the network and `huggingface-cli login`; the folder is complete and can be pushed later") from e
    return f"https://huggingface.co/{repo_id}"


def run(cfg: DictConfig) -> Path:
    if cfg.which not in ("ema", "raw"):
        raise UserError(f"which={cfg.which!r}: choose ema (the averaged generator, for sampling) or raw")
    if cfg.push_to:
        try:
            import huggingface_hub  # noqa: F401  (before any work)
        except ImportError as e:
            raise UserError("push_to= needs huggingface_hub: pip install huggingface_hub (or the hub extra)") from e
    loaded = load_generator(cfg.ckpt, cfg.pretrained, which=cfg.which)
    out = cli.check_output(cfg.out, cfg.overwrite, WEIGHTS, own=loaded.folders)
    generator = loaded.generator
    if loaded.checkpoint is not None:
        arguments, facts = checkpoint_facts(loaded.checkpoint, loaded.source)
    else:  # an imported generator: its sizes are all it has
        arguments, facts = {"latent_dim": generator.latent_dim, "widths": generator.widths}, {}
    config = describe(generator, arguments, loaded.source, cfg.which, facts)
    save(generator, config, out, generate_images(generator, cfg.samples, seed=cfg.seed))
    where = f"; pushed to {push(out, cfg.push_to)}" if cfg.push_to else ""
    print(f"wrote {out}/ ({WEIGHTS}, config.json, README.md, samples.png){where}", file=sys.stderr)
    return out


main = cli.command("export", run)


if __name__ == "__main__":
    main()
