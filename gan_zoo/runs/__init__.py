"""A training run's life beside the step: its folders (`folders`; `launch`: what a launch made, so that a failed
start removes only that), checkpoints (`checkpoints`: atomic saves, safe loads, the EMA generator of a stored run),
resume state and budgets (`resume`), what a resume takes from the config its checkpoint stored (`stored_config`),
the one-writer lock (`lock`), loggers, the Lightning callbacks that write samples and plots, the end-of-run
summary, and DDP inside `-m` sweeps. May import the core and `metrics`; never `api`, `latent` or `commands`."""
