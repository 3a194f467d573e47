"""Every file and module the documentation names exists: each `path/file.py` (and .yaml, .md, .ipynb, .toml) and
bare `file.py` in the Markdown files and in the package's source (docstrings, comments, messages), and each dotted
`gan_zoo.x.y` there is an importable module or an attribute of one. A rename that forgets a reference fails here."""
import importlib
import re

from gan_zoo import trusted
from tests.helpers import REPO

PATH = re.compile(r"(?<![\w./<>-])((?:[\w.-]+/)+[\w.-]+\.(?:py|yaml|md|ipynb|toml))\b")
BARE = re.compile(r"(?<![\w./<>-])([A-Za-z_][\w-]*\.py)\b")
DOTTED = re.compile(r"(?<![\w.])(gan_zoo(?:\.[A-Za-z_]\w*)+)")
# dotted names that are not modules: the entry-point groups of the trusted tables, the shared-model format id
NOT_MODULES = {trusted.entry_point_group(place) for place in trusted.PLACES} | {"gan_zoo.shared_model"}
RUN_FOLDER = (".hydra/",)  # paths inside a run's folder (documented as such), not in the repository


def _sources():
    markdown = [*REPO.glob("*.md"), *REPO.glob("checkpoints/*.md"), *REPO.glob("experiments/*.md")]
    return [*markdown, *sorted((REPO / "gan_zoo").rglob("*.py")), REPO / "hubconf.py"]


def _importable(name: str) -> bool:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attribute in parts[i:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return False
        return True
    return False


def test_every_named_file_and_module_exists():
    names = {p.name for p in REPO.rglob("*") if not {".git", ".venv", ".ci-venv"} & set(p.parts)}
    missing = []
    for source in _sources():
        text = source.read_text()
        where = source.relative_to(REPO)
        for match in PATH.finditer(text):
            path = match.group(1)
            if "://" in text[max(0, match.start() - 60) : match.start()] or path.startswith(RUN_FOLDER):
                continue
            if not (REPO / path).exists() and not (REPO / "gan_zoo" / path).exists():
                missing.append(f"{where}: {path}")
        missing += [f"{where}: {m.group(1)}" for m in BARE.finditer(text) if m.group(1) not in names]
        missing += [f"{where}: {m.group(1)}" for m in DOTTED.finditer(text)
                    if m.group(1) not in NOT_MODULES and not _importable(m.group(1))]
    assert not missing, "\n".join(missing)
