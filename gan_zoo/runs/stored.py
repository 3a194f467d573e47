"""What a checkpoint's stored run config builds besides its generator: its metrics protocol (the evaluator and its
extractor) and its data module. Everything goes through `gan_zoo.trusted`'s tables: the file names classes, it never
chooses code; paths that are the user's to choose (the feature cache) come from the caller, never from the file."""
from torch import nn

from gan_zoo import trusted
from gan_zoo.errors import UserError
from gan_zoo.metrics.extractors import PixelExtractor


def _evaluator_config(run: dict | None, source: str, instead: str) -> dict:
    evaluate = ((run or {}).get("metrics") or {}).get("evaluate")
    if not isinstance(evaluate, dict) or not isinstance(evaluate.get("evaluator"), dict):
        what = "the run has no metrics protocol" if run else "a pretrained generator has no run metrics protocol"
        raise UserError(f"{what}: {instead}")
    return evaluate["evaluator"]


def extractor(run: dict | None, source: str, space: str = "run", key: str = "memorization_space") -> nn.Module:
    """The feature extractor of the run's metrics protocol (`space="run"`), or the pixels (`space="pixels"`), on the
    CPU in eval mode; `key` names the setting in error messages."""
    if space == "pixels":
        return PixelExtractor()
    if space != "run":
        raise UserError(f"{key}={space!r}: choose run (the run's metrics extractor) or pixels")
    config = _evaluator_config(run, source, f"use the pixels ({key}=pixels), or train with metrics=classifier / "
                               "inception")
    return trusted.build(config.get("extractor"), "extractor", source).eval()


def evaluator(run: dict | None, source: str, cache_dir: str | None):
    """The run's own metrics protocol (an Evaluator); the real-feature cache goes to `cache_dir`."""
    config = _evaluator_config(run, source, "choose one for this evaluation, e.g. metrics=classifier or "
                               "metrics=inception")
    return trusted.build(config, "evaluator", source, cache_dir=cache_dir)


def data(run: dict | None, source: str):
    """The run's data module; it reads the files that are there and never downloads (a download would write where
    the file says)."""
    config = dict((run or {}).get("data") or {})
    if isinstance(config.get("dataset"), dict) and "download" in config["dataset"]:
        config["dataset"] = {**config["dataset"], "download": False}
    return trusted.build(config, "data", source)


def real_data(run: dict | None, source: str):
    """The data module of the run's real set when its metrics protocol scored against other images than it trained
    on (metrics.evaluate.real_data), else None; it never downloads."""
    config = (((run or {}).get("metrics") or {}).get("evaluate") or {}).get("real_data")
    return data({"data": config}, source) if isinstance(config, dict) else None
