"""The neighbour check of a collection before training (gan-zoo-eval images=... neighbours=true): known answers from
a folder with planted near-duplicates and an image unlike the rest."""
import json
import sys

import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from gan_zoo.commands.evaluate import main
from gan_zoo.data.embedded import CLASSES, load_embedded_images
from gan_zoo.metrics.collection import collection_report


def _folder(tmp_path):
    """30 sneakers, two of them planted again (one exactly, one re-toned: 5% less contrast), and one trouser."""
    images, labels = load_embedded_images()
    sneakers = images[labels == CLASSES.index("sneaker")][:30]
    folder = tmp_path / "collection"
    folder.mkdir()
    for i, image in enumerate(sneakers):
        Image.fromarray(image).save(folder / f"sneaker_{i:02d}.png")
    Image.fromarray(sneakers[3]).save(folder / "copy_of_03.png")
    Image.fromarray((sneakers[7].astype(float) * 0.95).astype(np.uint8)).save(folder / "retoned_07.png")
    Image.fromarray(images[labels == CLASSES.index("trouser")][0]).save(folder / "trouser.png")
    return folder


def test_known_answers_on_features():
    torch.manual_seed(0)
    points = torch.randn(20, 8)
    points = torch.cat([points, points[4:5] + 1e-3, torch.full((1, 8), 30.0)])  # a near-twin of 4; one far away
    report = collection_report(points)
    assert [(i, j) for i, j, _ in report["duplicates"]] == [(4, 20)]
    assert [i for i, _ in report["outliers"]] == [21]


def test_a_folder_with_planted_duplicates_and_an_outlier(tmp_path, monkeypatch, capsys):
    folder = _folder(tmp_path)
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo-eval", f"images={folder}", "neighbours=true", "metrics=classifier",
                                      f"paths.cache={tmp_path}/cache"])
    main()
    report = json.loads((tmp_path / "collection.neighbours.json").read_text())
    pairs = {frozenset((p["a"], p["b"])) for p in report["near_duplicates"]}
    assert pairs == {frozenset(("sneaker_03.png", "copy_of_03.png")), frozenset(("sneaker_07.png", "retoned_07.png"))}
    assert [o["image"] for o in report["no_similar_neighbour"]] == ["trouser.png"]
    assert report["num_images"] == 33 and report["features"] == "fmnist_cnn"
    assert (tmp_path / "collection.neighbours.png").is_file()
    with Image.open(tmp_path / "collection.neighbours.png") as grid:  # 3 rows (2 pairs, 1 outlier) of 4 images
        assert grid.size[1] > 2 * grid.size[0] / 4
    err = capsys.readouterr().err
    assert "near-duplicates: sneaker_03.png ~ copy_of_03.png" in err or "near-duplicates: copy_of_03.png ~" in err
    assert "no similar neighbour: trouser.png" in err and "33 images: 2 near-duplicate pairs, 1 without" in err
    before = (tmp_path / "collection.neighbours.json").read_bytes()  # the same check again keeps that report
    GlobalHydra.instance().clear()
    with pytest.raises(SystemExit) as stop:
        main()
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert "collection.neighbours.json' already exists (an earlier neighbour check): add overwrite=true" in err
    assert (tmp_path / "collection.neighbours.json").read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["neighbours=true"], "neighbours=true checks a folder of images: add images=<folder>"),
    (["neighbours=true", "images=."], "neighbours=true needs features to measure with: add metrics=inception"),
])
def test_what_the_check_needs(tmp_path, monkeypatch, capsys, args, message):
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["gan-zoo-eval", *args])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not list(tmp_path.iterdir())


def test_images_read_as_noise_have_no_finding_twice(tmp_path):
    rng = np.random.default_rng(0)
    report = collection_report(torch.from_numpy(rng.normal(size=(40, 16))).float())
    assert not report["duplicates"]
