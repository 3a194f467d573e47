"""The Hydra configs of every gan-zoo command (shipped in the package as gan_zoo.conf)."""
