"""Logger factories that need a decision at run time."""
import csv
import io
import netrc
import os
from pathlib import Path

import yaml
from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from omegaconf import OmegaConf
from omegaconf.errors import UnsupportedValueType, ValidationError

from gan_zoo.errors import UserError
from gan_zoo.files import append_text, read_own_text, refuse_link, write_text


def _wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def _previous_run_id(save_dir: str) -> str | None:
    """The id of the wandb run already logging into `save_dir` (a resumed gan_zoo run), if any."""
    latest = Path(save_dir) / "wandb" / "latest-run"
    return latest.resolve().name.rsplit("-", 1)[-1] if latest.exists() else None


def wandb_logger(save_dir: str, mode: str | None = None, **kwargs) -> WandbLogger:
    """A WandbLogger that works with no account: offline unless the user configured online, and that
    continues the same wandb run when the gan_zoo run is resumed (it logs into the same folder).

    mode: "online", "offline", or None = WANDB_MODE if set, else online when `wandb login` (or
    WANDB_API_KEY) provided credentials, else offline (sync later with `wandb sync <run dir>/wandb`).
    """
    try:
        import wandb  # noqa: F401  (Lightning's logger imports it late, with a traceback)
    except ImportError as e:
        raise UserError('logger=wandb needs the wandb package, an optional extra: pip install -e ".[wandb]" (or pip '
                        "install wandb); or log with logger=csv (the default) or logger=tensorboard") from e
    mode = mode or os.environ.get("WANDB_MODE") or ("online" if _wandb_credentials() else "offline")
    if (run_id := _previous_run_id(save_dir)) is not None:
        kwargs |= {"id": run_id, "resume": "allow"}
    return WandbLogger(save_dir=save_dir, offline=mode != "online", log_model=False, **kwargs)


def finish(loggers) -> None:
    """End the wandb runs of a finished fit: a run left open would take the next fit's logs in this process
    (Lightning reuses `wandb.run`), e.g. two trainings in one notebook."""
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish()


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing metrics.csv; this one continues it (resume). Its files are
    written as every file of gan_zoo is (`gan_zoo.files`), never through a link planted in a resumed run's folder:
    hparams.yaml and a metrics.csv whose header grows are replaced whole, rows are appended to our own file (a
    link at metrics.csv is refused when the run starts)."""

    def _check_log_dir_exists(self) -> None:
        refuse_link(self.metrics_file_path, "metrics file")
        if os.path.isfile(self.metrics_file_path):
            self.metrics_keys = list(csv.DictReader(io.StringIO(self._read())).fieldnames or [])

    def _read(self) -> str:
        return read_own_text(self.metrics_file_path, "metrics file")

    def save(self) -> None:
        if not self.metrics:
            return
        new_keys = self._record_new_keys()
        rows = io.StringIO()
        writer = csv.DictWriter(rows, fieldnames=self.metrics_keys)
        exists = os.path.lexists(self.metrics_file_path)
        if new_keys or not exists:  # a new header: the file rewritten whole
            previous = list(csv.DictReader(io.StringIO(self._read()))) if exists else []
            writer.writeheader()
            writer.writerows(previous)
            writer.writerows(self.metrics)
            write_text(self.metrics_file_path, rows.getvalue(), "metrics file")
        else:
            writer.writerows(self.metrics)
            append_text(self.metrics_file_path, rows.getvalue(), "metrics file")
        self.metrics = []

    def log_hparams(self, params: dict) -> None:
        self.hparams.update(params)
        write_text(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE), _yaml(self.hparams), "hyperparameter file")


def _yaml(hparams: dict) -> str:
    """hparams.yaml's text, as Lightning writes it."""
    try:
        return OmegaConf.to_yaml(OmegaConf.create(dict(hparams)))
    except (UnsupportedValueType, ValidationError):  # a value OmegaConf cannot hold: as Lightning's YAML does
        return yaml.safe_dump(dict(hparams))


class CSVLogger(LightningCSVLogger):
    """Lightning's CSVLogger writing `metrics.csv` straight into `save_dir`, and appending to it when
    the run is resumed instead of deleting it."""

    def __init__(self, save_dir: str, **kwargs):
        super().__init__(save_dir, name="", version="", **kwargs)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's TensorBoardLogger, whose hparams.yaml is written as every file of gan_zoo is (never through a link
    planted in a resumed run's folder): Lightning then finds it there and writes none of its own."""

    def save(self) -> None:
        path = os.path.join(self.log_dir, self.NAME_HPARAMS_FILE)
        if os.path.isdir(self.log_dir) and (os.path.islink(path) or not os.path.exists(path)):
            write_text(path, _yaml(self.hparams), "hyperparameter file")
        super().save()
