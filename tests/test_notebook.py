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
        f"TRAIN = {train!r}", "MAX_TIME = '1h'", "INIT = None", "RESUME = False", "PERIODS = None",
        "PROJECTION_STEPS = 20", "NAME = 'nb'"])
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum(1 for o in outputs if "image/png" in o.get("data", {})) >= 6  # grids, plots, copying check
    (run_dir,) = (tmp_path / "drive" / "experiments" / "nb").iterdir()
    assert (run_dir / "generated.png").is_file() and (run_dir / "plots" / "metrics.png").is_file()
    # fine-tuning: a new run from that one's weights (INIT), then the next session continues it (RESUME = True)
    (source,) = (tmp_path / "drive" / "checkpoints" / "nb").glob("*/last.ckpt")
    parameters.source = parameters.source.replace("INIT = None", f"INIT = {str(source)!r}").replace(
        "NAME = 'nb'", "NAME = 'nb_ft'")
    notebook_client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                              resources={"metadata": {"path": str(tmp_path)}})
    notebook_client.execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"init: took the generator, its EMA and the discriminator from the gan_zoo checkpoint '{source}'" in printed
    parameters.source = parameters.source.replace("RESUME = False", "RESUME = True").replace(
        "'trainer.max_epochs=2'", "'trainer.max_epochs=3'")
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    (ft_dir,) = (tmp_path / "drive" / "experiments" / "nb_ft").iterdir()  # the same run, in its own folders
    assert (ft_dir / "samples" / "epoch_0002.png").is_file()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "resuming from" in printed and "init: took" not in printed  # the source is not read again
