"""The Colab notebook runs headless on CPU with tiny settings (its parameters cell replaced), so it cannot rot."""
import nbclient  # the test extra installs nbclient, nbformat and ipykernel
import nbformat
import pytest

from tests.helpers import REPO, TINY


@pytest.mark.slow
def test_colab_notebook_runs_end_to_end(tmp_path):
    notebook = nbformat.read(REPO / "notebooks" / "colab.ipynb", as_version=4)
    (parameters,) = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    train = [a for a in TINY if a not in ("metrics=none", "trainer.max_epochs=1")] + [
        "trainer.max_epochs=2", "metrics=classifier", "metrics.evaluate.evaluator.num_real=64",
        "metrics.evaluate.evaluator.num_fake=64", "metrics.evaluate.evaluator.kid_subset_size=32",
        f"paths.cache={tmp_path}/cache"]
    parameters.source = "\n".join([
        "INSTALL = False", "USE_DRIVE = False", f"WORK = {str(tmp_path / 'drive')!r}", "DATA = None",
        f"TRAIN = {train!r}", "MAX_TIME = '1h'", "RESUME = False", "PERIODS = None", "PROJECTION_STEPS = 20", "NAME = 'nb'"])
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum(1 for o in outputs if "image/png" in o.get("data", {})) >= 6  # grids, plots, copying check
    (run_dir,) = (tmp_path / "drive" / "experiments" / "nb").iterdir()
    assert (run_dir / "generated.png").is_file() and (run_dir / "plots" / "metrics.png").is_file()
    # the next session: RESUME = True continues the same run in its own folders
    parameters.source = parameters.source.replace("RESUME = False", "RESUME = True").replace(
        "'trainer.max_epochs=2'", "'trainer.max_epochs=3'")
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    assert len(list((tmp_path / "drive" / "experiments" / "nb").iterdir())) == 1
    assert (run_dir / "samples" / "epoch_0002.png").is_file()
