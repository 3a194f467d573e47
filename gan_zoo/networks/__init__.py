"""Generator and discriminator networks. Plain `torch.nn` modules: no Lightning here."""
