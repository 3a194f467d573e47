"""torch.hub entry points: a gan_zoo generator from a gan_zoo checkpoint, or pytorch_GAN_zoo's published PGANs.

    import torch
    G = torch.hub.load("<you>/gan_zoo", "pggan", model_name="celebAHQ-512")      # pytorch_GAN_zoo's weights
    G = torch.hub.load("<you>/gan_zoo", "pggan", checkpoint="last.ckpt")         # your gan_zoo PGGAN run
    G = torch.hub.load("/path/to/gan_zoo", "generator", source="local", checkpoint="last.ckpt")  # any model
    G = torch.hub.load("<you>/gan_zoo", "generator", shared="my_generator")   # a gan-zoo-export folder
    images = G(torch.randn(8, G.latent_dim))                                         # [8, C, H, W] in [-1, 1]

Each returns the generator in eval mode (a gan_zoo checkpoint's EMA generator); files are read with
weights_only=True, as everywhere in gan_zoo.
"""
dependencies = ["torch", "torchvision", "hydra", "omegaconf", "lightning"]


def generator(checkpoint: str | None = None, shared: str | None = None):
    """The EMA generator of any gan_zoo checkpoint (DCGAN, PGGAN, StyleGAN-style), or the generator of a folder that
    gan-zoo-export wrote (`shared=`: safetensors weights, the class from gan_zoo's allowed table)."""
    from gan_zoo.api import load_generator

    return load_generator(ckpt=checkpoint, shared=shared).generator


def _of_model(checkpoint: str, module: str):
    from gan_zoo.errors import UserError

    g = generator(checkpoint)
    if type(g).__module__ != module:
        raise UserError(f"'{checkpoint}' holds a {type(g).__module__}.{type(g).__name__}, not a {module} generator: "
                        "use the entry point of its model, or 'generator'")
    return g


def pggan(checkpoint: str | None = None, model_name: str | None = None):
    """A PGGAN generator: from a gan_zoo checkpoint, or pytorch_GAN_zoo's `model_name` (celebAHQ-256,
    celebAHQ-512, DTD, celeba; downloaded where there is internet) or its file."""
    from gan_zoo.api import load_generator

    if model_name is not None and checkpoint is None:
        return load_generator(pretrained=f"pytorch_gan_zoo:{model_name}").generator
    return _of_model(checkpoint, "gan_zoo.networks.progan") if checkpoint else load_generator().generator


def dcgan(checkpoint: str):
    """A DCGAN generator from a gan_zoo checkpoint."""
    return _of_model(checkpoint, "gan_zoo.networks.dcgan")


def stylegan(checkpoint: str):
    """A StyleGAN-style generator from a gan_zoo checkpoint (it takes psi= for the truncation trick)."""
    return _of_model(checkpoint, "gan_zoo.networks.stylegan")
