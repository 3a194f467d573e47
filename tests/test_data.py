"""Datasets: the embedded set, image folders (bad and odd files), torchvision sets offline."""
import logging
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from gan_zoo.data.datamodule import GANDataModule
from gan_zoo.data.embedded import EmbeddedFashionMNIST
from gan_zoo.data.image_folder import ImageFolder
from gan_zoo.data.torchvision_sets import torchvision_dataset
from gan_zoo.data.transforms import to_mode
from gan_zoo.errors import UserError


def _save_images(folder, count, size=(20, 30), mode="RGB", suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(folder / f"img_{i:03d}{suffix}")


def test_embedded_dataset_is_balanced_and_in_range():
    ds = EmbeddedFashionMNIST(resolution=32, channels=3)
    images, labels = ds.tensors
    assert images.shape == (5000, 3, 32, 32)
    assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.9 and images.max() > 0.9
    assert torch.bincount(labels).tolist() == [500] * 10


def test_datamodule_exposes_sizes_and_serves_batches():
    dm = GANDataModule(EmbeddedFashionMNIST, resolution=16, channels=1, batch_size=8)
    images, _ = next(iter(dm.train_dataloader()))
    assert (dm.resolution, dm.channels) == (16, 1)
    assert images.shape == (8, 1, 16, 16)


def test_image_folder_recursive_resized_and_center_cropped(tmp_path):
    _save_images(tmp_path / "a", 3, size=(40, 20))
    _save_images(tmp_path / "a" / "b", 2, size=(20, 40), suffix=".jpg")
    _save_images(tmp_path / "c", 2, mode="L", suffix=".bmp")
    _save_images(tmp_path / "d", 1, suffix=".webp")
    ds = ImageFolder(tmp_path, resolution=16, channels=3)
    assert len(ds) == 8
    for i in range(len(ds)):
        image, _ = ds[i]
        assert image.shape == (3, 16, 16) and image.dtype == torch.float32
        assert -1 <= image.min() and image.max() <= 1


def test_image_folder_without_cache_loads_from_disk(tmp_path):
    _save_images(tmp_path, 4)
    ds = ImageFolder(tmp_path, resolution=8, channels=1, cache_mib=0)
    assert ds.cache is None and ds[3][0].shape == (1, 8, 8)


def test_image_folder_cache_is_uint8_and_serves_what_streaming_serves(tmp_path, monkeypatch):
    _save_images(tmp_path, 5, size=(24, 24))
    (tmp_path / "img_002.png").write_bytes((tmp_path / "img_002.png").read_bytes()[:200])  # truncated: found at decode
    cached = ImageFolder(tmp_path, resolution=16, channels=3)
    assert cached.cache.dtype == torch.uint8 and cached.cache.shape == (4, 3, 16, 16)  # 1 byte per value
    assert "img_002.png" not in {p.name for p in cached.files}
    streamed = ImageFolder(tmp_path, resolution=16, channels=3, cache_mib=0)
    for i in range(len(cached)):
        assert torch.equal(cached[i][0], streamed[streamed.files.index(cached.files[i])][0])
    assert torch.equal(cached.images(), torch.stack([cached[i][0] for i in range(len(cached))]))


def test_image_folder_above_the_byte_limit_streams_from_disk(tmp_path):
    _save_images(tmp_path, 4, size=(16, 16))
    one_image_mib = 3 * 16 * 16 / 2**20
    assert ImageFolder(tmp_path, resolution=16, channels=3, cache_mib=4 * one_image_mib).cache is not None
    ds = ImageFolder(tmp_path, resolution=16, channels=3, cache_mib=3.5 * one_image_mib)  # 4 images do not fit
    assert ds.cache is None and len(ds) == 4 and ds[0][0].dtype == torch.float32


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match=f"image folder not found: '{tmp_path / 'nope'}'"):
        ImageFolder(tmp_path / "nope", resolution=8, channels=3)


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(UserError, match=f"no images in '{tmp_path}'"):
        ImageFolder(tmp_path, resolution=8, channels=3)


def test_bad_files_are_skipped_with_one_warning(tmp_path, caplog):
    _save_images(tmp_path, 5)
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "garbage.jpg").write_bytes(b"this is not a jpeg at all")
    good = (tmp_path / "img_000.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 3])
    with caplog.at_level(logging.WARNING):
        ds = ImageFolder(tmp_path, resolution=8, channels=3)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "skipping 3 of 8 files" in warnings[0].message
    assert "zero.png (empty file)" in warnings[0].message and "garbage.jpg" in warnings[0].message
    assert len(ds) == 5
    assert all(ds[i][0].shape == (3, 8, 8) for i in range(len(ds)))


def test_truncated_jpeg_is_found_at_start_up_and_counted_with_the_others(tmp_path, caplog):
    _save_images(tmp_path, 4, size=(64, 64), suffix=".jpg")
    whole = (tmp_path / "img_000.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(whole[: len(whole) * 2 // 3])  # passes PIL's verify(), fails to decode
    (tmp_path / "zero.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        ds = ImageFolder(tmp_path, resolution=8, channels=3)
    (warning,) = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert "skipping 2 of 6 files" in warning and "cut.jpg" in warning and "zero.png" in warning
    assert len(ds) == 4 and len(ds.cache) == 4  # no duplicate stands in for the bad file
    assert [p.name for p in ds.files] == [f"img_{i:03d}.jpg" for i in range(4)]


def test_every_format_pillow_reads_is_loaded_and_other_files_are_listed(tmp_path, caplog):
    _save_images(tmp_path, 1, suffix=".gif")
    _save_images(tmp_path / "t", 1, suffix=".tif")
    _save_images(tmp_path / "p", 1, suffix=".png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "meta.json").write_text("{}")
    with caplog.at_level(logging.INFO):
        ds = ImageFolder(tmp_path, resolution=8, channels=3)
    assert sorted(p.suffix for p in ds.files) == [".gif", ".png", ".tif"]
    assert "ignoring 2 files" in caplog.text and ".txt (1)" in caplog.text and ".json (1)" in caplog.text


def test_file_that_breaks_mid_epoch_is_replaced_not_fatal(tmp_path, caplog):
    _save_images(tmp_path, 3)
    ds = ImageFolder(tmp_path, resolution=8, channels=3, cache_mib=0)
    ds.files[1].write_bytes(b"corrupted after the start-up check")
    with caplog.at_level(logging.WARNING):
        image, _ = ds[1]
    assert image.shape == (3, 8, 8) and "using the next image instead" in caplog.text


def test_folder_where_every_file_is_bad_is_a_clear_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.jpg").write_bytes(b"nope")
    with pytest.raises(UserError, match=f"none of the 2 image files in '{tmp_path}' could be read"):
        ImageFolder(tmp_path, resolution=8, channels=3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.new("RGBA", (9, 7), (255, 0, 0, 0)),  # fully transparent -> white
        lambda: Image.new("LA", (9, 7), (10, 0)),
        lambda: Image.new("RGB", (9, 7), (255, 255, 255)).convert("P", palette=Image.Palette.ADAPTIVE),
        lambda: Image.new("CMYK", (9, 7), (0, 0, 0, 0)),  # no ink -> white
        lambda: Image.fromarray(np.full((7, 9), 65535, dtype=np.uint16)),  # 16-bit white
        lambda: Image.new("RGB", (1, 1), (255, 255, 255)),  # tiny
    ],
)
@pytest.mark.parametrize("channels", [1, 3])
def test_odd_images_are_converted(tmp_path, make, channels):
    image = make()
    converted = to_mode(image, channels)
    assert converted.mode == ("L" if channels == 1 else "RGB")
    assert np.asarray(converted).min() == 255  # every case above is white
    image.save(tmp_path / ("x.png" if image.mode != "CMYK" else "x.jpg"))
    ds = ImageFolder(tmp_path, resolution=4, channels=channels)
    assert ds[0][0].shape == (channels, 4, 4)
    assert ds[0][0].min() > 0.95


def test_dataset_smaller_than_a_batch_is_a_clear_error(tmp_path):
    _save_images(tmp_path, 3)
    with pytest.raises(UserError, match="3 images, fewer than data.batch_size=8"):
        GANDataModule(lambda **kw: ImageFolder(tmp_path, **kw), resolution=8, channels=3, batch_size=8)


def _write_idx(path, array: np.ndarray):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_torchvision_dataset_by_name_from_local_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 12), ("t10k", 4)):
        _write_idx(raw / f"{split}-images-idx3-ubyte", np.full((n, 28, 28), 200))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    ds = torchvision_dataset("MNIST", resolution=32, channels=3, root=str(tmp_path))
    image, label = ds[0]
    assert len(ds) == 12 and image.shape == (3, 32, 32)
    assert len(torchvision_dataset("MNIST", resolution=32, channels=1, root=str(tmp_path), split="test")) == 4


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST", "CIFAR10", "CelebA"])
def test_torchvision_dataset_missing_files_say_where_to_put_them(tmp_path, name):
    with pytest.raises(UserError, match=f"could not load {name} from '{tmp_path}'.*put the files there"):
        torchvision_dataset(name, resolution=32, channels=3, root=str(tmp_path))


def test_unknown_torchvision_dataset_name():
    with pytest.raises(UserError, match="torchvision has no dataset 'MNISTT'"):
        torchvision_dataset("MNISTT", resolution=32, channels=1)
