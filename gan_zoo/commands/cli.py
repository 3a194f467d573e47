"""What every gan-zoo command shares: where the configs are, and how bad input ends (one line on stderr
starting `gan-zoo: error:`, exit code 2, no traceback), whether Hydra or gan_zoo finds it."""
import errno
import os
import re
import sys
import traceback
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import yaml
from hydra.errors import (
    ConfigCompositionException,
    InstantiationException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from gan_zoo.commands import console
from gan_zoo.errors import UserError

# The repository's conf/, installed as the package gan_zoo.conf (an editable install maps it to conf/ itself).
CONFIG_DIR = str(resources.files("gan_zoo.conf"))


def fail(message: str, code: int = 2):
    print("gan-zoo: error: " + " ".join(str(message).split()), file=sys.stderr)
    sys.exit(code)


@contextmanager
def report_user_error(on_error=None):
    """Turn a UserError (also one wrapped by Hydra's instantiate or Lightning) into one line and exit 2.
    `on_error` runs first (e.g. to remove the folder a failed start made)."""
    try:
        yield
    except Exception as e:
        cause = _in_chain(e, lambda c: isinstance(c, UserError))
        if cause is None and (os_error := _in_chain(e, _not_writable)) is not None:
            cause = os_error_message(os_error)
        if cause is None:
            raise
        if on_error is not None:
            on_error()
        fail(str(cause))


def _in_chain(error: BaseException, test):
    """The first exception in `error`'s chain of causes (itself included) that passes `test`, or None."""
    while error is not None and not test(error):
        error = error.__cause__ or error.__context__
    return error


def _not_writable(error: BaseException) -> bool:
    """A folder that cannot be written: read-only, not the user's, or full."""
    codes = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT)
    return isinstance(error, OSError) and error.errno in codes


def os_error_message(error: OSError) -> str:
    return (f"could not write '{error.filename}' ({error.strerror}): choose a folder you can write to (out= of this "
            "command; paths.experiments= and paths.checkpoints= of gan-zoo-train) or free some space")


def hydra_error_message(error: Exception) -> str | None:
    """One line for the errors Hydra raises on a bad command line, or None for any other error."""
    text = str(error)
    if isinstance(error, MissingConfigException) and (plugin := _missing_launcher(text)):
        return (f"the Hydra launcher '{plugin}' is not installed: pip install -e \".[cluster]\" "
                "(or pip install hydra-joblib-launcher hydra-submitit-launcher)")
    if isinstance(error, MissingConfigException):
        found = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
        if found:
            group, option = found.groups()
            options = ", ".join(error.options or []) or "see conf/" + group
            return f"no option '{option}' in config group '{group}' ({group}={option}): choose one of {options}"
        return text.splitlines()[0]
    if isinstance(error, ConfigCompositionException):
        found = re.search(r"Could not override '([^']+)'.*use \+(\S+)", text, re.S)
        if found:
            key, override = found.groups()
            if key in RENAMED:
                return f"'{key}' is now '{RENAMED[key]}': {override.replace(key, RENAMED[key], 1)}"
            if key == "data.dataset.root":  # the default data is inside the package: no folder to give
                return (f"unknown setting '{key}' ({override}): a folder of images is data=image_folder: add "
                        f"data=image_folder, as in data=image_folder {override}")
            return (f"unknown setting '{key}' ({override}): check its spelling (`--cfg job` prints every setting), "
                    f"or add a new key with +{override}")
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        return text + cause
    if isinstance(error, ValueError) and text.startswith("Only one of --run, --multirun"):
        return f"{text} (print a sweep's config without -m: --cfg job)"
    if isinstance(error, OverrideParseException) and (home := _tilde_value(str(error.override))):
        return home
    if isinstance(error, OverrideParseException):
        return f"bad command-line override: {text.splitlines()[0]} (form: key=value, group=option, +new_key=value)"
    if isinstance(error, OmegaConfBaseException) and not _raised_in_gan_zoo(error):  # e.g. name=${nope}
        key = f"{error.full_key}: " if getattr(error, "full_key", None) else ""
        return f"{key}{text.splitlines()[0]} (check the ${{...}} references in the overrides)"
    if _not_writable(error):  # e.g. Hydra making the run folder in a read-only experiments/
        return os_error_message(error)
    if isinstance(error, yaml.YAMLError):  # a config file (e.g. of --config-dir) that is not plain YAML
        return _yaml_message(error)
    if isinstance(error, InstantiationException) and not _raised_in_gan_zoo(error):  # e.g. +hydra.callbacks.x
        found = re.search(r"full_key: (\S+)", text)
        key = found.group(1) if found else "a hydra setting"
        reason = " ".join(text.split("full_key:")[0].split())
        return f"{key}: Hydra refused it ({reason}); remove that override or config entry"
    return None


def _yaml_message(error) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"'{mark.name}' line {mark.line + 1}" if mark is not None else "a config file"
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if "python/" in problem:
        return (f"{where}: {problem}: config files hold plain values (numbers, strings, lists, mappings) and no "
                "!!python tags are read; remove the tag (a class is named by _target_)")
    return f"{where} is not valid YAML: {problem}"


# settings that moved: an unknown one of these names says where it went (project and morph: the projection section)
RENAMED = {"steps_projection": "projection.steps", "noise_weight": "projection.noise_weight", "lr": "projection.lr",
           "steps": "projection.steps", "batch_size": "projection.batch_size", "seed": "projection.seed"}
_LAUNCHER_PLUGINS = {"joblib": "joblib", "local": "joblib", "submitit_local": "submitit", "submitit_slurm": "submitit",
                     "slurm": "submitit"}


def _tilde_value(override: str) -> str | None:
    """The message for key=~/path: bash expands ~ only at the start of a word (or after = in a variable
    assignment, which a dotted key is not), and Hydra's grammar refuses it."""
    found = re.fullmatch(r"([+~]*[\w.@/-]+)=~(.*)", override.strip())
    if not found:
        return None
    key, rest = found.groups()
    return (f"bad command-line override: {override.strip()}: the shell leaves ~ after {key}= unexpanded and Hydra "
            f"cannot read it; write {key}=$HOME{rest} (or quote it for both: \"{key}='~{rest}'\")")


def _missing_launcher(text: str) -> str | None:
    """The launcher plugin a MissingConfigException asks for (the cluster extra is not installed), if any."""
    found = re.search(r"'hydra/launcher/(\w+)'|hydra=launcher/(\w+)|'launcher/(\w+)'", text)
    name = next((g for g in found.groups() if g), None) if found else None
    return _LAUNCHER_PLUGINS.get(name)


def _raised_in_gan_zoo(error: Exception) -> bool:
    """Whether the error comes from gan_zoo's own code (a bug to show in full), not from Hydra's set-up."""
    package = str(Path(__file__).parent)
    return any(frame.filename.startswith(package) and frame.filename != __file__
               for frame in traceback.extract_tb(error.__traceback__))


def _is_sweep(value: str) -> bool:
    """Whether a command-line value gives several values (Hydra's sweep syntax: a,b  range(..)  choice(..))."""
    if re.match(r"(range|choice|glob|interval)\(", value):
        return True
    return "," in value and not value.startswith(("[", "{", "'", '"'))


SWEPT_KEYS = "GAN_ZOO_SWEPT_KEYS"  # the swept settings, for job processes of launchers (their argv is not the sweep's)


def swept_keys(argv) -> str:
    """The settings a command line sweeps over, comma-separated: `loss,seed`."""
    return ",".join(arg.split("=", 1)[0].lstrip("+~") for arg in argv if "=" in arg and _is_sweep(arg.split("=", 1)[1]))


def swept_values(task_overrides) -> str:
    """The job's values of the settings swept on the command line, for its folder name: `loss-hinge+seed-1`, in
    characters that neither bash nor Hydra's override grammar needs quoted (ckpt=<job folder>/last.ckpt pastes as
    it is)."""
    swept = set(os.environ.get(SWEPT_KEYS, swept_keys(sys.argv[1:])).split(","))
    parts = []
    for override in task_overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+~") in swept:
            parts.append(f"{_folder_word(key.lstrip('+~'))}-{_folder_word(value)}")
    return "+".join(parts) or "job"


def _folder_word(text: str) -> str:
    """`text` in the characters of a sweep folder name: compare/dcgan -> compare-dcgan, others -> _."""
    return re.sub(r"[^A-Za-z0-9._@-]", "_", text.replace("/", "-"))


# sweep job folder names; registered on import: a launcher's job process (joblib, submitit) imports this module
# to unpickle the job, and resolves the folder name there
OmegaConf.register_new_resolver("swept", swept_values, replace=True)


def run(hydra_main) -> None:
    """Run a @hydra.main function; Hydra's own errors for a bad command line end like a UserError."""
    console.quiet()
    own_swept = SWEPT_KEYS not in os.environ  # (a launcher's job process inherits its sweep's)
    if own_swept:
        os.environ[SWEPT_KEYS] = swept_keys(sys.argv[1:])  # inherited by the jobs launchers start
    full_error = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing its multi-line report and exiting 1
    try:
        hydra_main()
    except Exception as e:
        if full_error == "1" or (message := hydra_error_message(e)) is None:
            raise
        fail(message)
    finally:
        if own_swept:  # a second command in the same process (a notebook, tests) sweeps its own keys
            os.environ.pop(SWEPT_KEYS, None)
        if full_error is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = full_error


def pick_device(name: str):
    """The one device chooser of the commands: auto (a GPU where there is one), cpu, cuda or cuda:N."""
    import torch  # (here: `--help` imports this module and should not wait for torch)

    if name not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", str(name)):
        raise UserError(f"device={name!r}: choose auto, cpu, cuda or cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={name}: no CUDA GPU here; use device=cpu (or auto)")
    return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)


def run_folder_around(path: Path) -> Path | None:
    """The gan_zoo run folder (an experiment folder with .hydra/, or a checkpoint folder with last.ckpt) that
    holds `path` or is `path`, if any."""
    for folder in [path, *path.parents]:
        if (folder / ".hydra" / "config.yaml").is_file() or (folder / "last.ckpt").is_file():
            return folder
    return None


def check_output(out, overwrite: bool, marker: str | None = None, own=()) -> Path:
    """The output path `out` of a command, refused when it would replace an earlier result (a file, or a folder
    holding `marker`) without overwrite=true, or when it lies inside another run's folder than the `own` ones
    (those of the checkpoint the command reads)."""
    path = Path(out).expanduser()
    run = run_folder_around(path.resolve())
    if run is not None and run not in {Path(f).expanduser().resolve() for f in own}:
        raise UserError(f"out='{path}' is inside the folder of another run, '{run}': write elsewhere (a run's "
                        "folder holds only what its run and its own checkpoints made)")
    if marker is None and path.is_file() and not overwrite:
        raise UserError(f"out='{path}' already exists: choose another name or add overwrite=true")
    if marker is not None and path.exists() and not path.is_dir():
        raise UserError(f"out='{path}' is a file: give a folder")
    if marker is not None and (path / marker).exists() and not overwrite:
        raise UserError(f"out='{path}' already holds a result ({marker}): choose another out= or add overwrite=true")
    return path


def command(config_name: str, body, on_error=None):
    """The console entry of a command whose config is conf/<config_name>.yaml and whose work is body(cfg):
    Hydra's command line, and bad input as one line (exit 2), after on_error() (e.g. removing a folder the failed
    start made). body's result is the job's return value (Hydra's optimising sweepers read it)."""
    import hydra

    @hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=config_name)
    def _main(cfg):
        console.quiet()  # again here: a launcher's job process (joblib, submitit) starts in this function
        with report_user_error(on_error):
            settle(cfg, config_name)
            return body(cfg)

    entry = lambda: run(_main)  # noqa: E731
    entry.job = _main  # what Hydra runs per job (called with a composed config, it runs that config)
    return entry


def resolve_last_checkpoint(cfg) -> None:
    """ckpt=last, as in gan-zoo-train: the newest readable checkpoint of the runs named name= (of every run when
    the command has no name), said in one line on stderr."""
    if cfg.get("ckpt") != "last":
        return
    from gan_zoo.runs.folders import find_checkpoint  # (torch: not for --help)

    checkpoints = OmegaConf.select(cfg, "paths.checkpoints", default="checkpoints")
    cfg.ckpt = str(find_checkpoint("last", checkpoints, cfg.get("name")))
    print(f"gan-zoo: ckpt=last: {cfg.ckpt}", file=sys.stderr)


REMOVAL = "0.2.0"  # the release that removes the deprecated names below (README: "Deprecated settings")
# command -> {old setting: its new name}: read with a warning until REMOVAL, moved to the new name before the body runs
DEPRECATED = {
    "train": {"ckpt_path": "ckpt", "trainer.max_kimg": "budget.max_kimg", "trainer.max_time": "budget.max_time"},
    "generate": {"steps": "frames"},
    "morph": {"steps": "t"},
}


def settle(cfg, command_name: str) -> None:
    """What every command's config needs before its body: deprecated names moved to their new ones (one warning
    line each), `device` (where the command has one) resolved to the device that runs (pick_device), and ckpt=last
    to the checkpoint it names."""
    with open_dict(cfg):
        for old, new in DEPRECATED.get(command_name, {}).items():
            parent, _, key = old.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            value = node.pop(key, None) if isinstance(node, DictConfig) else None  # (its null placeholder too)
            if value is not None:
                print(f"gan-zoo: warning: {old}= is now {new}= (one meaning per name); {old}= still works until "
                      f"gan_zoo {REMOVAL}", file=sys.stderr)
                OmegaConf.update(cfg, new, value, merge=False)
        if "device" in cfg:
            cfg.device = str(pick_device(cfg.device))
    if command_name != "train":  # (training resolves ckpt=last with the run's folders and lock)
        resolve_last_checkpoint(cfg)
