"""Datasets that yield images [C, H, W] in [-1, 1] at the configured resolution and channels."""
