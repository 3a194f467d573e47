"""The latent space of a trained generator: spaces z / w / w_plus and latents.pt files (`spaces`), image
distances for projection (`distances`), projecting real images (`projection`, `projection_files`), and morphing
between two sets (`morphing`, `morph_files`). May import the core, `networks` and `metrics` (features and set
distances); never `api`, `runs` or `commands`."""
