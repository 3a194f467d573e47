"""Datasets -> images in [-1, 1], served by one LightningDataModule; resolution and channels come from here and
size the networks. The embedded Fashion-MNIST subset, torchvision's datasets, any folder of images (and
`image_folder.read_images`: a folder or a file as one tensor, for projection and morphing), a resumable sampler.
Imports only the core (errors, files)."""
