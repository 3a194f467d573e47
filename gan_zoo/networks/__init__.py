"""Generator and discriminator networks: DCGAN, progressive-growing GAN, StyleGAN-style, and their layers. Plain
`torch.nn` modules (no Lightning); imports only the core (errors; schedules' level_and_alpha). What every model
offers the rest of gan_zoo is written down once, in the core's `gan_zoo/contract.py`: the generator contract (latent_dim, resolution,
channels, num_classes, forward(z, c)), the optional style space (mapping, synthesis, w_avg, num_ws, noise_shapes)
and the discriminator's forward(x, c). Tools above this folder code against the contract only."""
