"""The layout is the architecture: data flows one way, commands -> api -> (latent, runs, metrics) -> (networks,
data) -> the core, with no cycle. Read from the source (every import, function-level ones included), so a lazy
import cannot hide an upward edge."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gan_zoo"

# A module's part: its folder, or "core" for the top level (the step, losses, regularizers, schedules, augment,
# EMA, errors, files, trusted, media) and "api".
ORDER = ["core", "networks", "data", "metrics", "pretrained", "runs", "latent", "api", "commands"]
# part -> the parts it may import (besides itself and the core)
ALLOWED = {
    "core": set(),
    "networks": set(),
    "data": set(),
    "metrics": set(),
    "pretrained": {"networks"},
    "runs": {"metrics"},
    "latent": {"metrics", "networks", "data"},
    "api": {"runs", "latent", "metrics", "networks", "data", "pretrained"},
    "commands": {"api", "runs", "latent", "metrics", "networks", "data", "pretrained"},
}
SHIMS = {"gan_zoo.train"}  # `python -m gan_zoo.train`, the documented entry, forwards to commands.train


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 2:
        return "api" if parts[1] == "api" else parts[1] if (PACKAGE / parts[1]).is_dir() else "core"
    return parts[1]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gan_zoo")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gan_zoo"):
            for alias in node.names:  # `from gan_zoo import api` imports the module gan_zoo.api
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return found


MODULES = {_module(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {m: _imports(p) - {m} for m, p in MODULES.items()}


def test_no_module_imports_upward():
    upward = []
    for module, imports in GRAPH.items():
        if module in SHIMS or module == "gan_zoo":
            continue
        part = _part(module)
        for target in imports:
            other = _part(target) if target != "gan_zoo" else "core"
            if other not in {part, "core"} | ALLOWED[part]:
                upward.append(f"{module} -> {target}")
    assert not upward, upward


def test_the_step_imports_no_network_and_the_networks_no_lightning():
    for module, path in MODULES.items():
        source = path.read_text()
        if module.startswith("gan_zoo.networks"):
            assert "lightning" not in source, module
    assert not {t for t in GRAPH["gan_zoo.gan_module"] if t.startswith("gan_zoo.networks")}


def test_no_import_cycle():
    state = {}

    def visit(module, stack):
        state[module] = "open"
        for target in GRAPH.get(module, ()):
            if target not in GRAPH:
                continue
            if state.get(target) == "open":
                pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(target):], target]))
            if target not in state:
                visit(target, [*stack, target])
        state[module] = "done"

    for module in GRAPH:
        if module not in state:
            visit(module, [module])


def test_the_top_level_is_small_and_every_folder_says_what_lives_there():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 14, top
    for folder in (p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc and len(doc) > 120 and "import" in doc.lower(), f"{folder.name}/__init__.py needs its paragraph"


def test_every_command_is_made_the_same_way():
    """One command pattern: each console command is `cli.command(<its config>, <its body>)`, reached through the
    light entry module (gan_zoo.commands.entry, which imports it only when there is work to do); only cli.py holds
    a @hydra.main."""
    from gan_zoo.commands import entry

    for path in (PACKAGE / "commands").glob("*.py"):
        source = path.read_text()
        if path.name != "cli.py":
            assert "hydra.main" not in source, f"{path.name}: use cli.command"
    scripts = dict(line.replace('"', "").split(" = ") for line in (PACKAGE.parent / "pyproject.toml").read_text().splitlines()
                   if line.startswith("gan-zoo-"))
    assert sorted(scripts) == sorted(f"gan-zoo-{name}" for name in entry.COMMANDS)
    for script, target in scripts.items():
        assert target == f"gan_zoo.commands.entry:{script.removeprefix('gan-zoo-')}", target
        module, config_name = entry.COMMANDS[script.removeprefix("gan-zoo-")]
        source = (PACKAGE / "commands" / f"{module}.py").read_text()
        made = (f'main = cli.command("{config_name}", ' in source  # compare: main turns folders into runs=[...]
                or f'_command = cli.command("{config_name}", ' in source and "\ndef main(" in source)
        assert made, f"{module}.main is not made by cli.command"


def test_help_imports_neither_torch_nor_lightning():
    import subprocess
    import sys

    for name in ("train", "eval", "generate"):
        code = (f"import sys; sys.argv = ['gan-zoo-{name}', '--help']\nfrom gan_zoo.commands import entry\n"
                f"try:\n    entry.{name}()\nfinally:\n"
                "    print('HEAVY', sorted(m for m in ('torch', 'lightning') if m in sys.modules))")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and f"gan-zoo-{name}:" in result.stdout, result.stderr[-2000:]
        assert "HEAVY []" in result.stdout, result.stdout[-500:]


# tests/data/dcgan_before_the_move.ckpt: written by gan-zoo-train before the package moved into folders, with
OLD_RUN = ["data.resolution=16", "data.batch_size=16", "model.module.num_samples=16", "trainer.limit_train_batches=3",
           "trainer.enable_model_summary=false", "model.generator.width=8", "model.generator.latent_dim=16",
           "model.discriminator.width=8", "metrics=classifier", "metrics.evaluate.evaluator.num_real=64",
           "metrics.evaluate.evaluator.num_fake=64", "metrics.evaluate.evaluator.batch_size=32",
           "metrics.evaluate.evaluator.kid_subset_size=32"]  # and trainer.max_epochs=1


@pytest.mark.slow
def test_a_checkpoint_written_before_the_move_still_resumes_and_generates(tmp_path):
    import shutil

    from tests.helpers import run_cli

    ckpt = tmp_path / "old" / "last.ckpt"
    ckpt.parent.mkdir()
    shutil.copy(PACKAGE.parent / "tests" / "data" / "dcgan_before_the_move.ckpt", ckpt)
    generated = run_cli([f"ckpt={ckpt}", "num=4", f"out={tmp_path / 'four.png'}"], cwd=tmp_path,
                        module="gan_zoo.commands.generate")
    assert generated.returncode == 0 and (tmp_path / "four.png").stat().st_size > 100, generated.stderr[-2000:]
    # resumed with the old name of the setting: it still works, with one deprecation line
    resumed = run_cli([*OLD_RUN, f"paths.cache={tmp_path}/cache", "trainer.max_epochs=2", f"ckpt_path={ckpt}"],
                      cwd=tmp_path, module="gan_zoo.train")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    output = resumed.stdout + resumed.stderr
    assert "ckpt_path= is now ckpt=" in output and "run finished: 2 epochs" in output
    assert "continue: gan-zoo-train" in output and f"ckpt={ckpt}" in output
