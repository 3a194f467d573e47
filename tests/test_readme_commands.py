"""The README's commands work as printed: every gan-zoo-* command line of its ```bash blocks (and the examples of the
commands' --help) goes through a real shell's word expansion (bash prints the words it would pass) and each
key=value word through Hydra's override parser. Placeholders (`<name>`) are filled with a word first; pip, python
and other programs' lines are theirs to parse."""
import os
import re
import subprocess
from pathlib import Path
from string import Template

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from gan_zoo.commands.cli import CONFIG_DIR
from tests.helpers import REPO

COMMAND = re.compile(r"gan-zoo-[a-z]+(\s|$)")  # a command line, not a description ("gan-zoo-eval: ...")
FLAGS_WITH_A_VALUE = {"--config-dir", "-cd", "--config-name", "-cn", "--cfg", "-c", "--package", "-p"}


def _readme_lines() -> list[str]:
    """The README's ```bash command lines, continuation lines joined."""
    blocks = re.findall(r"^```bash\n(.*?)^```", (REPO / "README.md").read_text(), re.S | re.M)
    lines = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def _help_lines() -> list[str]:
    """The example lines of every command's --help (the help templates of conf/*.yaml and conf/hydra/)."""
    lines = []
    for path in [*Path(CONFIG_DIR).glob("*.yaml"), Path(CONFIG_DIR) / "hydra" / "default.yaml"]:
        config = OmegaConf.load(path)
        template = OmegaConf.select(config, "hydra.help.template") or OmegaConf.select(config, "help.template") or ""
        template = Template(template).safe_substitute()  # as Hydra prints it: $$ is $
        lines += [line.strip() for line in template.splitlines() if COMMAND.match(line.strip())]
    return lines


COMMANDS = [line for line in _readme_lines() if COMMAND.match(line)]


def _words(line: str) -> list[str]:
    """The arguments bash passes for `line` (placeholders filled), as it would run it."""
    filled = re.sub(r"<[^<>\n]+>", "x", line)
    result = subprocess.run(["bash", "-c", f"printf '%s\\0' {filled}"], capture_output=True, text=True,
                            env={**os.environ, "HOME": "/home/someone"})
    assert result.returncode == 0, f"bash cannot read: {line}\n{result.stderr}"
    return result.stdout.split("\0")[:-1]


def _overrides(words: list[str]) -> list[str]:
    """The key=value words of a command line, without its flags and their values and compare's folders."""
    found, skip = [], False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in FLAGS_WITH_A_VALUE:
            skip = True
        elif not word.startswith("-") and "=" in word:
            found.append(word)
    return found


def test_the_readme_shows_commands_to_check():
    assert len(COMMANDS) > 40 and any("data.dataset.root=" in c for c in COMMANDS)
    assert len(_help_lines()) > 15


@pytest.mark.parametrize("line", COMMANDS + _help_lines(), ids=lambda line: line[:70])
def test_every_command_line_parses_as_printed(line):
    parser = OverridesParser.create()
    for word in _overrides(_words(line)):
        try:
            parser.parse_overrides([word])
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{line!r}: bash passes {word!r}, which Hydra's parser refuses: {str(e).splitlines()[0]}")
