"""A generator to share: a folder with `generator.safetensors` (weights only: no code can run from it), `config.json`
(the network's class, its arguments, sizes, the checkpoint's kimg and metrics) and a model card `README.md` with
`samples.png`, the layout the Hugging Face Hub uses. Loading builds the class through `gan_zoo.trusted`'s table:
the file names a class, it never chooses code."""
import json
from pathlib import Path

import torch
from torch import nn

from gan_zoo import __version__, trusted
from gan_zoo.contract import has_style_space
from gan_zoo.errors import UserError
from gan_zoo.files import atomic_write, write_text
from gan_zoo.metrics.registry import METRICS
from gan_zoo.runs.checkpoints import epochs_of, kimg_of, run_config
from gan_zoo.runs.run import records

WEIGHTS, CONFIG, CARD, SAMPLES = "generator.safetensors", "config.json", "README.md", "samples.png"
FORMAT = "gan_zoo.shared_model/1"


def describe(generator: nn.Module, arguments: dict, source: str, which: str, facts: dict) -> dict:
    """config.json's content: what loading needs (class, arguments, sizes) and what a reader wants to know."""
    config = {"format": FORMAT, "gan_zoo_version": __version__,
              "class": f"{type(generator).__module__}.{type(generator).__name__}",
              "arguments": arguments,  # the class's arguments besides resolution and channels
              "latent_dim": generator.latent_dim, "resolution": generator.resolution, "channels": generator.channels,
              "w_space": has_style_space(generator), "generator": which, "source": source, **facts}
    if config["w_space"]:
        config |= {"w_dim": generator.w_dim, "num_ws": generator.num_ws}
    return config


def checkpoint_facts(checkpoint: dict, path: str) -> tuple[dict, dict]:
    """(the generator's arguments, what the checkpoint tells of its run: data, budget, metrics) of a gan_zoo checkpoint."""
    run = run_config(checkpoint, path)
    arguments = {k: v for k, v in run["model"]["generator"].items() if not k.startswith("_")}
    run_dir = (run.get("paths") or {}).get("run_dir")
    evaluations = records(Path(run_dir)) if isinstance(run_dir, str) and run_dir else []
    metrics = None
    if evaluations:
        best = min(evaluations, key=lambda r: r["metrics"]["fid"])
        metrics = {"protocol": evaluations[-1]["protocol"], "last": evaluations[-1]["metrics"],
                   "last_kimg": evaluations[-1]["kimg"], "best": best["metrics"], "best_kimg": best["kimg"]}
    data = run.get("data") or {}
    facts = {"kimg": kimg_of(checkpoint, path), "epochs": epochs_of(checkpoint, path)[1],
             "data": {"dataset": (data.get("dataset") or {}).get("_target_"),
                      "name": (data.get("dataset") or {}).get("name") or (data.get("dataset") or {}).get("root"),
                      "resolution": data.get("resolution"), "channels": data.get("channels")},
             "model": (run.get("model") or {}).get("generator", {}).get("_target_"), "metrics": metrics}
    return arguments, facts


def save(generator: nn.Module, config: dict, out: Path, samples: torch.Tensor) -> Path:
    """Write the folder: weights, config.json, samples.png, README.md (each atomically)."""
    from safetensors.torch import save as to_bytes
    from torchvision.utils import make_grid, save_image

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in generator.state_dict().items()}
    blob = to_bytes(state, metadata={"format": FORMAT})
    atomic_write(out / WEIGHTS, lambda f: f.write(blob), "shared generator weights")
    write_text(out / CONFIG, json.dumps(config, indent=2) + "\n", "shared generator config")
    grid = make_grid(samples, nrow=8, normalize=True, value_range=(-1, 1))
    atomic_write(out / SAMPLES, lambda f: save_image(grid, f, format="png"), "sample grid")
    write_text(out / CARD, model_card(config), "model card")
    return out


def model_card(config: dict) -> str:
    metrics = config.get("metrics")
    lines = [
        "---", "library_name: gan_zoo", "tags: [gan, image-generation, " + config["class"].split(".")[-2] + "]", "---",
        f"# {config['class'].split('.')[-2].upper()} generator ({config['generator']} weights)", "",
        f"A {config['resolution']}x{config['resolution']}, {config['channels']}-channel image generator trained with "
        f"gan_zoo {config['gan_zoo_version']}; `{config['class']}` with latent size "
        f"{config['latent_dim']}" + (" and a w space" if config["w_space"] else "") + ".", "",
        "![samples](samples.png)", "",
        "## Training", "",
        f"- data: {json.dumps(config.get('data'))}",
        f"- budget: {config.get('kimg', '?')} kimg ({config.get('epochs', '?')} epochs)",
        f"- source: `{config['source']}`", "",
        "## Metrics", "",
    ]
    if metrics:
        protocol = metrics["protocol"]
        lines += [f"Protocol: extractor `{protocol.get('extractor')}`, {protocol.get('num_real')} real / "
                  f"{protocol.get('num_fake')} generated images, real split `{protocol.get('real_split')}`.", "",
                  "| | kimg | " + " | ".join(METRICS[k].label if k in METRICS else k for k in metrics["last"]) + " |",
                  "|---|---|" + "---|" * len(metrics["last"])]
        for name in ("last", "best"):
            lines.append(f"| {name} | {metrics[f'{name}_kimg']:.1f} | "
                         + " | ".join(f"{metrics[name].get(k, float('nan')):.4g}" for k in metrics["last"]) + " |")
    else:
        lines.append("No evaluation was recorded for this run.")
    lines += ["", "## Load", "", "```bash", "gan-zoo-generate shared=<this folder> num=64 out=samples.png", "```", "",
              "```python", "from gan_zoo import api", "generator = api.load_generator(shared='<this folder>').generator",
              "images = generator(torch.randn(16, generator.latent_dim))  # [16, C, H, W] in [-1, 1]", "",
              "import torch", "generator = torch.hub.load('<you>/gan_zoo', 'generator', shared='<this folder>')",
              "```", "",
              f"The weights are `{WEIGHTS}` (safetensors: tensors only, no code); the class is taken from gan_zoo's "
              "table of allowed generators, never from the file.", ""]
    return "\n".join(lines)


def _plain_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as e:  # (RecursionError: lists nested thousands deep)
        raise UserError(f"'{path}' is not a readable shared-model config ({type(e).__name__}): export the model "
                        "again with gan-zoo-export") from e
    keys = {"class": str, "arguments": dict, "resolution": int, "channels": int}
    if not isinstance(config, dict) or any(not isinstance(config.get(k), t) for k, t in keys.items()):
        raise UserError(f"'{path}' is not a gan_zoo shared-model config (it needs class, arguments, resolution, "
                        "channels): export the model again with gan-zoo-export")
    return config


def load(folder: str | Path) -> tuple[nn.Module, dict]:
    """(the generator in eval mode, its config) of a shared-model folder."""
    folder = Path(folder).expanduser()
    if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
        raise UserError(f"shared='{folder}' is not a shared-model folder (it needs {CONFIG} and {WEIGHTS}): "
                        "make one with gan-zoo-export ckpt=<checkpoint> out=<folder>")
    for name in (CONFIG, WEIGHTS):  # a link out of the folder would read a file the folder's author chose
        if (folder / name).resolve().parent != folder.resolve():
            raise UserError(f"refusing shared='{folder}': its {name} is a link to '{(folder / name).resolve()}', "
                            "outside the folder; a shared-model folder holds its own files (copy them in)")
    config = _plain_config(folder / CONFIG)
    build = {"_target_": config["class"], **config["arguments"]}
    generator = trusted.build(build, "generator", str(folder / CONFIG), resolution=config["resolution"],
                              channels=config["channels"])
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(folder / WEIGHTS))
        generator.load_state_dict(state)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise UserError(f"'{folder / WEIGHTS}' does not hold this generator's weights ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:160] if str(e) else ''}): export the model again") from e
    broken = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:  # it would make NaN images, and be scored as if it made images
        raise UserError(f"'{folder / WEIGHTS}' holds non-finite weights (NaN or Inf in {len(broken)} tensors, e.g. "
                        f"{broken[0]}): a diverged or damaged generator; export a checkpoint from before it diverged")
    return generator.eval(), config
