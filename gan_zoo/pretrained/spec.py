"""`pretrained=<source>:<name or file>`: which importer reads a pretrained spec."""
from torch import nn

from gan_zoo.errors import UserError

SOURCES = {  # source -> what may follow the colon
    "pytorch_gan_zoo": "celebAHQ-256|celebAHQ-512|DTD|celeba|file.pth",
    "stylegan2-ada": "ffhq|metfaces|afhqcat|afhqdog|afhqwild|brecahad|cifar10|ffhq256|...|URL|file.pkl",
}


def load(spec: str) -> tuple[nn.Module, dict]:
    """(the imported generator in eval mode, {"arguments": its class's arguments besides resolution and channels,
    "provenance": what the file tells of itself (source, sha256, license, class names), or None}); a UserError for
    a spec of no known source."""
    source, _, name = spec.partition(":")
    if source == "stylegan2-ada" and name:
        from gan_zoo.pretrained.stylegan2_ada import load as load_stylegan2_ada

        imported = load_stylegan2_ada(name)
        return imported.generator, {"arguments": imported.arguments, "provenance": imported.facts}
    if source == "pytorch_gan_zoo" and name:
        from gan_zoo.pretrained.pytorch_gan_zoo import load_pgan_generator

        generator = load_pgan_generator(name)
        return generator, {"arguments": {"latent_dim": generator.latent_dim, "widths": generator.widths},
                           "provenance": None}
    raise UserError(f"pretrained={spec!r}: expected " + " or ".join(f"{s}:<{n}>" for s, n in SOURCES.items()))
