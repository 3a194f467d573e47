"""Compute FID, IS and KID for a generator against a dataset, the same way every time.

Protocol (recorded with every result): `num_real` real images (a fixed-seed random subset of the
real split) and `num_fake` images from the EMA generator (fixed-seed latents); both go through the
same uint8 quantization before the extractor; the extractor's name, weights hash and resize method.
The metrics themselves are torchmetrics' (FrechetInceptionDistance, KernelInceptionDistance,
InceptionScore), fed with features computed once per image (the extractor runs once for all of them);
precision, recall, density and coverage (`gan_zoo.metrics.prdc`, k nearest neighbours) use the same features.
Real features are cached on disk, keyed by everything they depend on. A cache file is used only when it is whole
(its digest: against corruption), made for this key, float32 of the right shape and finite, and when `cache_check`
of its rows, drawn unpredictably at each read, match those images extracted again (against someone who can write
the cache folder and recompute the digest); otherwise it is computed again, with one warning.
"""
import hashlib
import json
import logging
import secrets
from pathlib import Path

import torch
from torch import nn
from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance

from gan_zoo.contract import call, num_classes, random_labels
from gan_zoo.errors import UserError
from gan_zoo.files import read, save
from gan_zoo.metrics.features import batches_of, features_of
from gan_zoo.metrics.prdc import prdc

log = logging.getLogger(__name__)


class _Passthrough(nn.Module):
    """Lets torchmetrics take features we computed (once, for all three metrics) as its 'images'."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


# How far a re-extracted cached row may be from the cached one, relative to the rows' largest value. Measured on CPU:
# equal bit for bit at equal batch size, within 2e-7 across batch sizes (1, 8, 100), fmnist_cnn and Inception alike;
# the looser bound leaves room for a cache written on another device (a GPU's TF32 convolutions).
CACHE_TOLERANCE = 1e-3


def _digest(features: torch.Tensor) -> str:
    return hashlib.sha256(features.float().contiguous().numpy().tobytes()).hexdigest()


NOT_FINITE = ("; the generator's weights are damaged or its training diverged: evaluate an earlier checkpoint (or "
              "resume from one)")


def _finite(images: torch.Tensor) -> torch.Tensor:
    """Generated images, refused when not finite (quantized, NaN would pass as black pixels and be scored)."""
    if not torch.isfinite(images).all():
        raise UserError("the generator's images are not finite (NaN or Inf): nothing was scored" + NOT_FINITE)
    return images


class Evaluator:
    def __init__(
        self,
        extractor: nn.Module,  # gan_zoo.metrics.extractors: uint8 images -> (features, logits | None)
        num_real: int = 10_000,  # real images (capped at the dataset's size)
        num_fake: int = 10_000,  # generated images
        batch_size: int = 100,  # images per extractor / generator call; does not change the results
        kid_subset_size: int = 1000,  # KID subset size (capped at num_real and num_fake)
        kid_subsets: int = 100,
        is_splits: int = 10,  # IS is averaged over this many splits of the fake set
        prdc_k: int = 5,  # k of the k-NN balls for precision/recall/density/coverage (Naeem et al. 2020), 0 = off
        real_split: str = "train",  # recorded: the split the real images come from (the training data's)
        cache_dir: str | None = "~/.cache/gan_zoo/real_features",  # None = no cache
        seed: int = 0,  # seeds the real subset, the fake latents and KID/IS's random subsets
        cache_check: int = 8,  # cached real images extracted again at each read of the cache, 0 = none
    ):
        self.extractor = extractor.eval()
        self.num_real, self.num_fake, self.batch_size = num_real, num_fake, batch_size
        self.kid_subset_size, self.kid_subsets, self.is_splits = kid_subset_size, kid_subsets, is_splits
        self.prdc_k, self.real_split, self.seed = prdc_k, real_split, seed
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.cache_check = cache_check

    def protocol(self, num_real: int) -> dict:
        return {"extractor": self.extractor.name, "weights_sha256": self.extractor.weights_sha256,
                "resize": self.extractor.resize, "quantization": "uint8, real and fake alike", "num_real": num_real,
                "num_fake": self.num_fake, "real_split": self.real_split, "seed": self.seed, "prdc_k": self.prdc_k}

    def real_features(self, dataset, data_id: dict, device="cpu") -> torch.Tensor:
        """Features [num_real, D] of a fixed random subset of `dataset`, from the cache when there."""
        n = min(self.num_real, len(dataset))
        protocol = {k: v for k, v in self.protocol(n).items() if k != "prdc_k"}  # what the features depend on
        key = json.dumps({"data": data_id, **protocol}, sort_keys=True, default=str)
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(self.seed))[:n]
        path = None
        if self.cache_dir is not None:
            path = self.cache_dir / f"{self.extractor.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.pt"
            if path.is_file() and (cached := self._cached(path, key, dataset, order, device)) is not None:
                return cached
        features = self.dataset_features(dataset, order, device)[0]
        if path is not None:
            try:  # atomic: a concurrent reader sees the old file or the whole new one
                save({"features": features, "key": key, "sha256": _digest(features)}, path, "real-feature cache")
            except UserError as e:  # a cache that cannot be written is not worth stopping for
                log.warning(str(e))
        return features

    def dataset_features(self, dataset, indices: torch.Tensor, device="cpu") -> tuple:
        """(features, logits | None) of the images `dataset[i][0]` for i in `indices`, read in batches."""
        return features_of(self.extractor.to(device), batches_of(dataset, self.batch_size, indices), device)

    def _cached(self, path: Path, key: str, dataset, order: torch.Tensor, device) -> torch.Tensor | None:
        """The features in a cache file (of the images dataset[order]) if it passes every check of the module's
        docstring; else None, with one warning."""
        try:
            record = read(path, "real-feature cache")
            features = record["features"]
            dim = getattr(self.extractor, "num_features", None)
            if not isinstance(features, torch.Tensor) or features.dtype != torch.float32:
                raise ValueError(f"its features are {getattr(features, 'dtype', type(features).__name__)}, not float32")
            if record["key"] != key:
                raise ValueError("it was made for another protocol or data")
            if features.dim() != 2 or len(features) != len(order) or features.shape[1] != (dim or features.shape[1]):
                raise ValueError(f"its features have the shape {tuple(features.shape)}, not "
                                 f"({len(order)}, {dim or 'D'})")
            if record["sha256"] != _digest(features):
                raise ValueError("its digest does not match its features")
            if not torch.isfinite(features).all():
                raise ValueError("its features are not all finite (NaN or Inf)")
            if not self._agrees(features, dataset, order, device):
                raise ValueError(f"images extracted again do not give its features (checked {self.cache_check})")
            return features
        except (UserError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            log.warning(f"ignoring the real-feature cache '{path}' ({str(e).splitlines()[0]}): computing the "
                        "features again")
            return None

    def _agrees(self, features: torch.Tensor, dataset, order: torch.Tensor, device) -> bool:
        """Whether `cache_check` cached rows, drawn from the system's randomness (a forger cannot know which), equal
        their images extracted again, within CACHE_TOLERANCE of the rows' largest value."""
        if not self.cache_check:
            return True
        rows = torch.randperm(len(features), generator=torch.Generator().manual_seed(secrets.randbits(63)))
        rows = rows[: self.cache_check]
        cached, fresh = features[rows], self.dataset_features(dataset, order[rows], device)[0]
        return bool((fresh - cached).abs().max() <= CACHE_TOLERANCE * cached.abs().max().clamp_min(1e-12))

    @torch.no_grad()
    def fake_features(self, generator: nn.Module, device, rank: int = 0, world_size: int = 1):
        """(features, logits) of this process's share of `num_fake` generated images (the generator contract:
        latent_dim, num_classes; a conditional generator's classes are drawn uniformly, with their own seed). The
        caller puts the generator in eval mode."""
        share = -(-self.num_fake // world_size)  # equal shares (all_gather needs equal sizes); rank 0 trims the excess
        z = torch.randn(self.num_fake, generator.latent_dim, generator=torch.Generator().manual_seed(self.seed + 1))
        c = random_labels(self.num_fake, num_classes(generator), torch.Generator().manual_seed(self.seed + 2))
        pad = share * world_size - self.num_fake
        z = torch.cat([z, z[:pad]])[rank * share : (rank + 1) * share]
        c = None if c is None else torch.cat([c, c[:pad]])[rank * share : (rank + 1) * share]
        labels = c.split(self.batch_size) if c is not None else [None] * len(z)
        images = (_finite(call(generator, zb.to(device), None if cb is None else cb.to(device)))
                  for zb, cb in zip(z.split(self.batch_size), labels))
        return features_of(self.extractor.to(device), images, device)

    def compute(self, real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor | None) -> dict:
        """{"fid", "kid", "kid_std", "is", "is_std" (only with logits), "precision", "recall", "density", "coverage"}."""
        fake = fake[: self.num_fake]
        fake_logits = fake_logits[: self.num_fake] if fake_logits is not None else None
        # non-finite features would crash torchmetrics' FID (a segmentation fault) or be scored as a number
        if not all(torch.isfinite(x).all() for x in (fake, fake_logits) if x is not None):
            raise UserError("the generator's images are not finite (their features hold NaN or Inf): nothing was "
                            "scored" + NOT_FINITE)
        if not torch.isfinite(real).all():
            raise UserError("the real images' features are not finite (NaN or Inf): nothing was scored; check the "
                            "extractor's weights")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            results = _fid_kid(real, fake, self.kid_subset_size, self.kid_subsets, self.batch_size)
            if fake_logits is not None:
                inception_score = InceptionScore(feature=_Passthrough(fake_logits.shape[1]), splits=self.is_splits,
                                                 sync_on_compute=False)
                inception_score.update(fake_logits)
                is_mean, is_std = inception_score.compute()
                results |= {"is": is_mean.item(), "is_std": is_std.item()}
        if self.prdc_k:
            results |= prdc(real, fake, self.prdc_k)
        return results


def _fid_kid(real: torch.Tensor, fake: torch.Tensor, kid_subset_size: int, kid_subsets: int, batch_size: int) -> dict:
    """torchmetrics' FID and KID of two feature sets (KID's subsets drawn from the global RNG: seed it first)."""
    dim = real.shape[1]
    fid = FrechetInceptionDistance(feature=_Passthrough(dim), sync_on_compute=False)
    kid = KernelInceptionDistance(feature=_Passthrough(dim), subset_size=min(kid_subset_size, len(real), len(fake)),
                                  subsets=kid_subsets, sync_on_compute=False)
    for features, is_real in ((real, True), (fake, False)):
        for chunk in features.split(batch_size):
            fid.update(chunk, real=is_real)
            kid.update(chunk, real=is_real)
    kid_mean, kid_std = kid.compute()
    return {"fid": fid.compute().item(), "kid": kid_mean.item(), "kid_std": kid_std.item()}


def set_distances(features: torch.Tensor, reference: torch.Tensor, seed: int = 0) -> dict:
    """FID and KID of a set of features against a reference set (the evaluator's definitions and defaults; no
    protocol, no PRDC): morph's distances between real and generated sets."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        result = _fid_kid(reference, features, kid_subset_size=1000, kid_subsets=100, batch_size=100)
    return {"fid": result["fid"], "kid": result["kid"]}
