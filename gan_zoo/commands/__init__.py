"""The console commands, one module each (train, eval, generate, project, morph, compare), all built the same way
by `cli.command`: Hydra composes conf/<command>.yaml with the command line, the body gets the config, bad input
ends as one line and exit 2. What only the commands use lives here too: `cli` (the entry helper, the device
chooser, output checks), `console` (what a run prints), `config_checks` (types and ranges of the settings).
May import anything of gan_zoo; nothing imports it (but the `gan_zoo.train` shim)."""
