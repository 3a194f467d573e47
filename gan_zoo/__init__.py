"""gan_zoo: GANs (DCGAN, PGGAN, StyleGAN-style) trained by one shared adversarial step on Lightning + Hydra."""

__version__ = "0.1.0"
