"""Reading gan_zoo checkpoints, with clear errors for missing or damaged files."""
from pathlib import Path

import torch

from gan_zoo.errors import UserError


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict at `path` (on CPU), or a UserError naming the file and what is wrong."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint not found: '{path}'")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # truncated zip, garbage bytes, unpickling errors
        raise UserError(f"checkpoint '{path}' is truncated or corrupt ({type(e).__name__}: {e})") from e


def run_config(checkpoint: dict, path: str | Path) -> dict:
    """The resolved config a gan_zoo run stored in its checkpoint."""
    if "gan_zoo_config" not in checkpoint:
        raise UserError(f"'{path}' is not a gan_zoo checkpoint (it has no stored run config)")
    return checkpoint["gan_zoo_config"]
