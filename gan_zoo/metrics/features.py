"""Features of images: the one extraction loop of gan_zoo, which the training evaluation, gan-zoo-eval, the copying
check and morph all go through. Images in [-1, 1] are quantized to uint8 first (as an image file stores them), then
given to the extractor batch by batch; a dataset is read batch by batch, never all at once."""
import torch
from torch import nn
from torch.utils.data import Dataset


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8 [0, 255], as an image file would store them."""
    return ((images.float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def batches_of(images: torch.Tensor | Dataset, batch_size: int, indices: torch.Tensor | None = None):
    """Batches [B, C, H, W] of a tensor of images, or of the images `dataset[i][0]` (i in `indices`, default all)."""
    if isinstance(images, torch.Tensor):
        yield from (images if indices is None else images[indices]).split(batch_size)
        return
    indices = torch.arange(len(images)) if indices is None else indices
    for chunk in indices.split(batch_size):
        yield torch.stack([images[int(i)][0] for i in chunk])


@torch.no_grad()
def features_of(extractor: nn.Module, batches, device="cpu") -> tuple[torch.Tensor, torch.Tensor | None]:
    """(features [N, D], logits [N, K] or None) of image batches in [-1, 1], through `extractor` (which the caller has
    put on `device` and in eval mode); the results on the CPU."""
    features, logits = [], []
    for images in batches:
        f, lg = extractor(quantize(images).to(device))
        features.append(f.float().cpu())
        logits.append(None if lg is None else lg.float().cpu())
    return torch.cat(features), (torch.cat(logits) if logits[0] is not None else None)


def extract_features(extractor: nn.Module, images: torch.Tensor | Dataset, batch_size: int = 256,
                     device: str = "cpu") -> torch.Tensor:
    """Features [N, D] of images in [-1, 1] (a tensor, or a dataset of (image, label) items)."""
    return features_of(extractor, batches_of(images, batch_size), device)[0]
