"""The console scripts (pyproject's [project.scripts]): each imports its command's module, and with it torch and
Lightning (seconds), only when there is work to do. `--help`, `--hydra-help`, `--cfg` and `--info` compose the
configs and print without running anything: they get the same Hydra app without the heavy imports."""
import sys
from importlib import import_module

# console script -> (its module in gan_zoo.commands, its root config in conf/)
COMMANDS = {
    "train": ("train", "train"),
    "eval": ("evaluate", "eval"),
    "compare": ("compare", "compare"),
    "generate": ("generate", "generate"),
    "project": ("project", "project"),
    "morph": ("morph", "morph"),
    "export": ("export", "export"),
}
PRINT_ONLY = ("-h", "--help", "--hydra-help", "-c", "--cfg", "-i", "--info")  # Hydra's flags that run nothing


def _entry(command: str):
    module, config_name = COMMANDS[command]

    def main() -> None:
        if any(arg in PRINT_ONLY for arg in sys.argv[1:]) and not _compare_with_folders(command):
            from gan_zoo.commands import cli

            return cli.command(config_name, _never_runs)()
        return import_module(f"gan_zoo.commands.{module}").main()

    main.__name__ = main.__qualname__ = command
    return main


def _never_runs(cfg) -> None:
    raise AssertionError("a print-only flag ran the command")


def _compare_with_folders(command: str) -> bool:
    """gan-zoo-compare's positional folders are rewritten by its own main (into runs=[...])."""
    return command == "compare" and any(not a.startswith("-") for a in sys.argv[1:])


train, eval, compare, generate, project, morph, export = (_entry(c) for c in COMMANDS)  # noqa: A001
