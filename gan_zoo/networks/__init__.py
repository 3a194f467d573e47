"""Generator and discriminator networks: DCGAN, progressive-growing GAN, StyleGAN-style, and their layers. Plain
`torch.nn` modules (no Lightning); imports only the core (errors; schedules' level_and_alpha). Every generator meets one contract: attributes
`latent_dim`, `resolution`, `channels`, and `has_w = True` for generators with a mapping network (w space)."""
