"""Feature extractors for FID / IS / KID.

Each maps uint8 images [N, C, H, W] (C = 1 or 3) to (features [N, num_features], logits [N, K] or None)
and carries what a result must record: `name` (used in metric names), `weights_sha256`, `resize`.
"""
import hashlib
import tempfile
from pathlib import Path

import torch
from torch import nn

from gan_zoo.errors import UserError
from gan_zoo.files import read
from gan_zoo.metrics.fashion_classifier import load_fashion_classifier


def state_dict_sha256(module: nn.Module) -> str:
    """Hash of the weights themselves (names, shapes, values), wherever they were loaded from."""
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(str(tuple(value.shape)).encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _checked_copy(weights_path: str, folder: str) -> str:
    """torch-fidelity reads a weights file with weights_only=False: it gets a copy that we wrote, of the state dict
    read with weights_only=True, so a file of others never runs code."""
    state = read(Path(weights_path), "InceptionV3 weights",
                 " (metrics.evaluate.evaluator.extractor.weights_path): download the weights again")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"InceptionV3 weights '{weights_path}' are not a state dict of tensors")
    copy = str(Path(folder) / "inception.pth")
    torch.save(state, copy)
    return copy


class InceptionExtractor(nn.Module):
    """torch-fidelity's InceptionV3 (the TF "2015-12-05" FID network), through torchmetrics.

    Features: the 2048-d pool3 activations (FID, KID). Logits: the unbiased 1008-way logits (IS).
    Images are resized to 299x299 like TF1.x's bilinear resize (the reference FID code), or with
    antialiasing if `resize="antialias"`; grayscale is repeated to 3 channels.
    """

    name = "inception"
    num_features = 2048

    def __init__(
        self,
        weights_path: str | None = None,  # a torch-fidelity/pytorch-fid state dict file; None = the standard download
        resize: str = "tf1x",  # "tf1x" (reference FID) or "antialias" (torchmetrics' default)
    ):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        try:
            with tempfile.TemporaryDirectory() as folder:
                local = None if weights_path is None else _checked_copy(weights_path, folder)
                self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                              feature_extractor_weights_path=local, antialias=resize == "antialias")
        except (OSError, RuntimeError) as e:  # no internet: URLError is an OSError
            raise UserError(f"could not get the InceptionV3 weights for FID/IS ({e}): give a local file with "
                            "metrics.evaluate.evaluator.extractor.weights_path=/path/to/weights-inception-2015-12-05-"
                            "6726825d.pth, or use metrics=classifier (embedded data), or turn metrics off with "
                            "metrics=none") from e
        self.resize = f"{resize} bilinear to 299x299"
        self.weights_sha256 = state_dict_sha256(self.net)
        # A file without the classifier layer (e.g. an FID-only conversion) cannot give IS.
        self.has_logits = bool(self.net.fc.weight.abs().sum() > 0)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)  # [N, 3, H, W]
        features, logits = self.net._torch_fidelity_forward(images)  # both outputs, one pass
        return features.float(), (logits.float() if self.has_logits else None)


class FashionClassifierExtractor(nn.Module):
    """The small Fashion-MNIST CNN shipped with gan_zoo: offline and fast, for the embedded dataset.
    Its metrics are named *_fmnist_cnn: they are not comparable with Inception FID/IS."""

    name = "fmnist_cnn"
    num_features = 128
    resize = "grayscale, antialiased bilinear to 28x28"
    has_logits = True

    def __init__(self):
        super().__init__()
        self.net = load_fashion_classifier()
        self.weights_sha256 = state_dict_sha256(self.net)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(images)

    def train(self, mode: bool = True):
        return super().train(False)  # BatchNorm stays in inference mode


class PixelExtractor(nn.Module):
    """The pixels themselves as features (uint8 scaled to [0, 1], flattened): the plainest space for the
    copying check, where a near-copy is near in every sense."""

    name = "pixels"
    resize = "none"
    weights_sha256 = "none"
    has_logits = False

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return images.float().flatten(1) / 255.0, None
