"""Features of images, and the distances between two sets of them: what every "how far is this set from that one"
in gan_zoo goes through (the training evaluation, gan-zoo-eval, the copying check, morph)."""
import torch
from torch import nn
from torch.utils.data import Dataset

from gan_zoo.metrics.evaluator import Evaluator, quantize
from gan_zoo.metrics.extractors import PixelExtractor


@torch.no_grad()
def extract_features(extractor: nn.Module, images: torch.Tensor | Dataset, batch_size: int = 256,
                     device: str = "cpu") -> torch.Tensor:
    """Features [N, D] of images in [-1, 1] (a tensor, or a dataset of (image, label) items), after the same
    uint8 quantization the metrics use; the images are read in batches, never all at once from a dataset."""
    extractor = extractor.to(device)
    batches = images.split(batch_size) if isinstance(images, torch.Tensor) else (
        torch.stack([images[int(i)][0] for i in idx]) for idx in torch.arange(len(images)).split(batch_size))
    return torch.cat([extractor(quantize(batch).to(device))[0].float().cpu() for batch in batches])


def set_distances(features: torch.Tensor, reference: torch.Tensor) -> dict:
    """FID and KID of a set of features against a reference set (the evaluator's definitions, no PRDC)."""
    result = Evaluator(PixelExtractor(), prdc_k=0, cache_dir=None).compute(reference, features, None)
    return {"fid": result["fid"], "kid": result["kid"]}
