"""A run, the one owner of its facts: its folders (`experiments/<name>/<run>`, `checkpoints/<name>/<run>`), its
evaluations (metrics.jsonl), its last checkpoint, how far it got, whether it is finished or still going, what it
says when it ends and the command that continues it."""
import json
import logging
import re
import shlex
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_zoo.runs.lock import is_held

log = logging.getLogger(__name__)


def records(run_dir: Path) -> list[dict]:
    """The evaluations in a run's metrics.jsonl; a line that is cut off (a run killed while writing) or not an
    evaluation (fields missing or of another type: a file from elsewhere) is skipped with one warning."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    good, skipped = [], 0
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
            if _is_evaluation(record):
                good.append(record)
                continue
        except (ValueError, RecursionError):
            pass
        skipped += bool(line.strip())
    if skipped:
        log.warning(f"'{path}': skipped {skipped} unreadable line(s) (cut off, or not an evaluation)")
    return good


def _is_evaluation(record) -> bool:
    """Whether a metrics.jsonl line has what its readers (compare, plots, the summary) use, of the types the
    metrics callback writes."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    metrics = lambda v: isinstance(v, dict) and number(v.get("fid")) and all(map(number, v.values()))  # noqa: E731
    return (isinstance(record, dict) and metrics(record.get("metrics"))
            and ("metrics_raw" not in record or metrics(record["metrics_raw"]))
            and isinstance(record.get("epoch"), int) and number(record.get("kimg"))
            and isinstance(record.get("protocol"), dict) and isinstance(record["protocol"].get("extractor"), str)
            and all(record.get(k) is None or number(record[k]) for k in ("train_seconds", "peak_memory_gib")))


def best_fid(run_dir: Path) -> float | None:
    """The run's lowest FID over training (what `gan-zoo-train` returns to Hydra's optimising sweepers)."""
    fids = [r["metrics"]["fid"] for r in records(run_dir)]
    return min(fids) if fids else None


def is_finished(epochs_done: int, kimg: float, max_epochs: int, max_kimg: float | None) -> bool:
    """Whether a run has used its budget: kimg where it has one, else epochs (-1 = no limit)."""
    if max_kimg:
        return kimg >= max_kimg
    return max_epochs != -1 and epochs_done >= max_epochs


def budget(config) -> tuple[float | None, str | None]:
    """(max_kimg, max_time) of a run's config: the `budget` section, or the `trainer` keys of configs before it."""
    return tuple(OmegaConf.select(config, f"budget.{key}", default=None)
                 or OmegaConf.select(config, f"trainer.{key}", default=None) for key in ("max_kimg", "max_time"))


def hydra_value(value: str) -> str:
    """`value` as Hydra's override grammar reads it back unchanged: bare where it can be, else single-quoted
    (a quote, and backslashes before a quote or at the end, escaped)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        if OverridesParser.create().parse_override(f"key={value}").value() == value:
            return value
    except Exception:  # noqa: BLE001  (Hydra's grammar rejects it bare)
        pass
    escaped = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), value)
    return f"'{escaped}'"


def bash_word(arg: str) -> str:
    """`arg` as one bash word, in its most readable quoting (double quotes around Hydra's single-quoted values)."""
    if shlex.quote(arg) == arg or "'" not in arg or any(c in arg for c in '"$`\\!'):
        return shlex.quote(arg)
    return f'"{arg}"'


def budget_past(kimg: float, epochs_done: int, max_epochs: int, max_kimg: float | None) -> list[str]:
    """The overrides that continue a run as far again as its budget, counted from what it has seen (so that a
    run resumed more than once never gets a budget it has already passed): kimg where it has a kimg budget,
    else epochs (-1 = no limit: nothing to raise)."""
    more = []
    if max_kimg:
        more.append(f"budget.max_kimg={kimg + max_kimg:g}")
    if max_epochs > 0 and (not max_kimg or epochs_done >= max_epochs):
        more.append(f"trainer.max_epochs={epochs_done + max_epochs}")
    return more


def continue_command(task_overrides: list[str], ckpt: str, more: list[str] = (), config_dirs: list[str] = (),
                     config_name: str = "train") -> str:
    """The command that resumes exactly this run when pasted into bash as printed: its own overrides (a sweep
    job's values too), its --config-dir, its checkpoint by path (ckpt=last takes the newest run of a name, and
    never looks in a sweep's folder), then `more` (e.g. a raised budget, replacing the one given)."""
    replaced = {m.split("=", 1)[0] for m in more}
    if "budget.max_kimg" in replaced:
        replaced.add("trainer.max_kimg")  # its old name
    dropped = {"ckpt", "ckpt_path", "resume_changes", "init", *replaced}  # (a resume never reads init= again)
    kept = [o for o in task_overrides if o.split("=", 1)[0].lstrip("+~") not in dropped]
    flags = [part for folder in config_dirs for part in ("--config-dir", folder)]
    if config_name != "train":
        flags += ["--config-name", config_name]
    return " ".join(map(bash_word, ["gan-zoo-train", *flags, *kept, f"ckpt={hydra_value(str(ckpt))}", *more]))


@dataclass
class Run:
    """A finished or running run, read back from its folder (its .hydra/ files and metrics.jsonl)."""

    folder: Path

    @cached_property
    def config(self) -> DictConfig:
        return OmegaConf.load(self.folder / ".hydra" / "config.yaml")

    @cached_property
    def overrides(self) -> dict:
        """key -> value of its command line (.hydra/overrides.yaml)."""
        given = OmegaConf.load(self.folder / ".hydra" / "overrides.yaml")
        return dict(str(o).lstrip("+~").split("=", 1) for o in given if "=" in str(o))

    @cached_property
    def records(self) -> list[dict]:
        return records(self.folder)

    @cached_property
    def ckpt_dir(self) -> Path | None:
        """Its checkpoint folder: paths.checkpoints mirrors paths.experiments; relative paths were relative to
        the folder the run was launched in (the ancestor A with A/<experiments> above the run folder)."""
        experiments = Path(str(OmegaConf.select(self.config, "paths.experiments", default="experiments"))).expanduser()
        checkpoints = Path(str(OmegaConf.select(self.config, "paths.checkpoints", default="checkpoints"))).expanduser()
        folder = self.folder.resolve()
        for launch in ([Path("/")] if experiments.is_absolute() else folder.parents):
            try:
                inside = folder.relative_to((launch / experiments).resolve())
            except ValueError:
                continue
            return (checkpoints if checkpoints.is_absolute() else launch / checkpoints) / inside
        return None

    @property
    def checkpoint(self) -> Path | None:
        last = self.ckpt_dir / "last.ckpt" if self.ckpt_dir else None
        return last if last is not None and last.is_file() else None

    @property
    def finished(self) -> bool:
        if not self.records:
            return False
        last = self.records[-1]
        max_epochs = OmegaConf.select(self.config, "trainer.max_epochs", default=-1)
        max_kimg = budget(self.config)[0]
        return (max_epochs == -1 and not max_kimg) or is_finished(last["epoch"] + 1, last["kimg"], max_epochs, max_kimg)

    @cached_property
    def status(self) -> str:
        """done, running (its lock is held), no metrics, or stopped early."""
        if self.ckpt_dir is not None and is_held(self.ckpt_dir):
            return "running"
        if not self.records:
            return "no metrics"
        return "done" if self.checkpoint is not None and self.finished else "stopped early"


def _fmt(record: dict) -> str:
    return f"{record['metrics']['fid']:.2f} (epoch {record['epoch']}, {record['kimg']:.1f} kimg)"


def run_summary(run_dir: Path, best_checkpoint: str | None, epochs: int, kimg: float, command: str) -> str:
    """What a run says when it ends: what it achieved (whole epochs, kimg, FID), where its files are (the run folder,
    the best-FID checkpoint if metrics ran), how to continue it (`command`)."""
    evaluations = records(run_dir)
    lines = [f"gan-zoo: run finished: {epochs} epochs, {kimg:.1f} kimg"]
    if evaluations:
        extractor = evaluations[-1]["protocol"]["extractor"]
        best = min(evaluations, key=lambda r: r["metrics"]["fid"])
        lines.append(f"  FID ({extractor}): final {_fmt(evaluations[-1])}, best {_fmt(best)}")
    if best_checkpoint:
        lines.append(f"  best checkpoint: {best_checkpoint}")
    lines.append(f"  run folder: {run_dir}  (samples/: sample grids and real.png, plots/: FID and losses)")
    lines.append(f"  continue: {command}")
    return "\n".join(lines)
