import os
import sys

if os.environ.get("PYTEST_XDIST_WORKER"):  # `pytest -n 2`: one torch thread per worker (two cores, two workers; the
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # commands the tests start inherit it), set before torch is imported

import pytest
from hydra.core.global_hydra import GlobalHydra


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


@pytest.fixture(autouse=True)
def _finish_wandb():
    """A wandb run left open would swallow the next test's run (Lightning reuses `wandb.run`)."""
    yield
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()
