"""Datasets -> images in [-1, 1], served by one LightningDataModule; resolution and channels come from here and
size the networks. The embedded Fashion-MNIST subset, torchvision's datasets, any folder of images, a resumable
sampler. Imports only the core (errors, files)."""
