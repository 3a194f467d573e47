"""Importers of other projects' published weights into the zoo's networks (pytorch_GAN_zoo's PGAN: its generator, averaged generator and discriminator). Files are
read with `gan_zoo.files.read` (weights_only) and checked before use. Imports the core and `networks`."""
