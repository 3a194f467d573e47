"""Importers of other projects' published weights into the zoo's networks: pytorch_GAN_zoo's PGAN
(`pytorch_gan_zoo`: its generator, averaged generator and discriminator), NVIDIA's stylegan2-ada-pytorch network
pickles (`stylegan2_ada`, read by an allow-list that runs nothing from the file); `spec` picks one for a
`pretrained=<source>:<name or file>`. Files are read as data (weights_only, or an allow-listed unpickler) and checked
before use. Imports the core and `networks`."""
