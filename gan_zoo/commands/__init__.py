"""The console commands, one module each (train, eval, generate, project, morph, compare), all built the same way
by `cli.command`: Hydra composes conf/<command>.yaml with the command line, the body gets the config, bad input
ends as one line and exit 2; `entry` holds the console scripts (they import a command only when it has work to do:
`--help` needs no torch). What only the commands use lives here too: `cli` (the entry helper, the device chooser,
output checks, ckpt=last), `console` (what a run prints), `config_checks` (types and ranges of the settings),
`resume_settings` (what the command line gave, so that a resume takes the rest from the run's stored config),
`init_sources` / `init_settings` / `init_weights` (init=: a new run from another one's weights), `collection_check`
(gan-zoo-eval neighbours=true).
May import anything of gan_zoo; nothing imports it (but the `gan_zoo.train` shim)."""
