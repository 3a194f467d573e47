"""NVIDIA's stylegan2-ada-pytorch network pickles as gan_zoo StyleGAN networks: `sources` finds the file (a name of
NVIDIA's published models, a URL or a path), `reader` reads it without running anything from it, `convert` builds
gan_zoo's Generator and Discriminator with the options that compute what the reference computes.

    from gan_zoo.pretrained.stylegan2_ada import load
    imported = load("network-snapshot-001000.pkl")      # or load("cifar10") where there is internet
    images = imported.generator(torch.randn(4, imported.generator.latent_dim), psi=0.7, noise_mode="const")
"""
from gan_zoo.pretrained.stylegan2_ada import convert, reader, sources


def load(name_or_path: str, trained: bool = False) -> convert.Imported:
    """The pickle's G_ema (and D; with `trained`, G) as gan_zoo networks in eval mode, with the file's provenance in
    `facts`."""
    path, known = sources.locate(name_or_path)
    imported = convert.convert(reader.read(path), str(path), trained)
    imported.facts = {"from": "stylegan2-ada-pytorch", "file": str(path), "sha256": sources.sha256(path), **known,
                      **imported.facts}
    return imported
