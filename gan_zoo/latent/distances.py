"""Image distances for projection: per-image, differentiable, images in [-1, 1] [N, C, H, W].

- `pixels`: mean squared error (offline, no weights).
- `features`: squared distance of a network's features (+ pixels): the shipped Fashion-MNIST classifier
  (`network=fmnist_cnn`, offline) or a TorchScript file the user gives (images in [0, 1] -> features).
- `lpips`: LPIPS on VGG16 (Zhang et al. 2018; torchmetrics' implementation and its linear layers), the distance
  of StyleGAN2's projector. Needs VGG16's ImageNet weights: torchvision's download, or a file given with
  `vgg16_weights`; without them it fails at start-up, before any work.
"""
import shutil
import urllib.request
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gan_zoo.errors import UserError
from gan_zoo.files import atomic_write, read

VGG16_FILE = "vgg16-397923af.pth"  # torchvision's VGG16_Weights.IMAGENET1K_V1
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILE}"


def _mse(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (images - targets).square().flatten(1).mean(1)


def _gray_or_rgb(images: torch.Tensor, channels: int) -> torch.Tensor:
    if images.shape[1] == channels:
        return images
    return images.expand(-1, channels, -1, -1) if images.shape[1] == 1 else images.mean(1, keepdim=True)


class PixelDistance(nn.Module):
    name = "pixels"

    def forward(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return _mse(images, targets)


class FeatureDistance(nn.Module):
    """||f(x) - f(y)||^2 / dim + pixel_weight * MSE, f a frozen network on images in [0, 1]."""

    def __init__(self, network: str = "fmnist_cnn", pixel_weight: float = 1.0):
        super().__init__()
        if network == "fmnist_cnn":
            from gan_zoo.metrics.fashion_classifier import load_fashion_classifier

            classifier = load_fashion_classifier()
            self.net, self.channels = (lambda x: classifier(x)[0]), None
            self._keep = classifier  # a submodule: moves with .to(device)
        else:
            path = Path(network).expanduser()
            if not path.is_file():
                raise UserError(f"distance.network={network!r}: not a file; give a TorchScript feature network "
                                "(images in [0, 1] -> features) or fmnist_cnn (shipped)")
            try:
                self._keep = torch.jit.load(str(path), map_location="cpu").eval()
            except (RuntimeError, ValueError, OSError) as e:
                raise UserError(f"distance.network='{path}' is not a TorchScript file ({str(e).splitlines()[0]}): "
                                "save one with torch.jit.save(torch.jit.script(net), path)") from e
            self.net, self.channels = self._keep, 3
        for parameter in self._keep.parameters():  # (a ScriptModule has no requires_grad_ of its own)
            parameter.requires_grad_(False)
        self.name = f"features:{Path(network).name}"
        self.pixel_weight = pixel_weight

    def forward(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        pair = torch.cat([images, targets]) * 0.5 + 0.5
        if self.channels:
            pair = _gray_or_rgb(pair, self.channels)
        features = self.net(pair).flatten(1)
        a, b = features.split(len(images))
        return (a - b).square().mean(1) + self.pixel_weight * _mse(images, targets)


def _read_weights(path: Path) -> dict:
    state = read(path, "VGG16 weights", f": download {VGG16_URL} again")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"VGG16 weights '{path}' are not a state dict of tensors: download {VGG16_URL} again")
    return state


def vgg16_state_dict(vgg16_weights: str | None, timeout: float = 20.0) -> dict:
    """VGG16's ImageNet weights: the given file, else torchvision's cached download (downloaded if missing)."""
    if vgg16_weights:
        path = Path(vgg16_weights).expanduser()
        if not path.is_file():
            raise UserError(f"distance.vgg16_weights='{path}': no such file (torchvision's {VGG16_FILE}, "
                            f"from {VGG16_URL})")
        return _read_weights(path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE
    if cached.is_file():
        return _read_weights(cached)
    try:  # this request's own timeout (offline: fail in seconds, not minutes), never the process-wide one
        with urllib.request.urlopen(VGG16_URL, timeout=timeout) as response:
            atomic_write(cached, lambda f: shutil.copyfileobj(response, f), "VGG16 weights")
    except (OSError, UserError) as e:  # URLError, timeouts, refused connections, a full disk
        raise UserError(
            f"distance=lpips needs VGG16's ImageNet weights and could not download them ({type(e).__name__}): "
            f"put {VGG16_FILE} (from {VGG16_URL}) at '{cached}' or give distance.vgg16_weights=<file>, "
            "or choose an offline distance: distance=pixels or distance=features") from e
    return _read_weights(cached)


class LPIPSDistance(nn.Module):
    """LPIPS (VGG16) + pixel_weight * MSE. Images smaller than 32 px are upsampled (VGG16's five blocks)."""

    name = "lpips_vgg16"

    def __init__(self, vgg16_weights: str | None = None, pixel_weight: float = 0.0):
        super().__init__()
        state = vgg16_state_dict(vgg16_weights)  # first: fail before building anything
        # torchmetrics' LPIPS network without its own download (a private class: its public metric downloads VGG16
        # itself and takes no weights file); pinned by the tests of a given VGG16 file
        from torchmetrics.functional.image.lpips import _NoTrainLpips

        self.lpips = _NoTrainLpips(net="vgg", pretrained=True, pnet_rand=True)  # its linear layers, our VGG16
        features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        for block in self.lpips.net.children():  # slice1..5 keep torchvision's layer numbers as names
            for index, layer in block.named_children():
                layer.load_state_dict({k.split(".", 1)[1]: v for k, v in features.items()
                                       if k.split(".", 1)[0] == index})
        self.lpips.requires_grad_(False).eval()
        self.pixel_weight = pixel_weight

    def forward(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        a, b = _gray_or_rgb(images, 3), _gray_or_rgb(targets, 3)
        if a.shape[-1] < 32:
            a = F.interpolate(a, size=32, mode="bilinear", align_corners=False)
            b = F.interpolate(b, size=32, mode="bilinear", align_corners=False)
        return self.lpips(a, b).flatten() + self.pixel_weight * _mse(images, targets)
