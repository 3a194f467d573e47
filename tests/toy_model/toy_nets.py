"""A model that is not one of the zoo's: the example of CONTRIBUTING.md's "Add a model", used by
tests/test_new_model.py. It meets gan_zoo's contract (gan_zoo/contract.py), style space included, with attribute
names of its own: nothing of gan_zoo reads more than the contract."""
import torch
import torch.nn.functional as F
from torch import nn


class Generator(nn.Module):
    """z -> a small mapping MLP -> w; w -> a 4x4 feature map plus one per-pixel noise input -> upsampled images."""

    def __init__(
        self,
        resolution: int,  # from the data
        channels: int,  # from the data
        latent_dim: int = 16,
        w_dim: int = 16,
        width: int = 8,  # feature maps of the 4x4 layer
        num_classes: int = 0,  # from the data when it has labels (data.num_classes); 0 = unconditional
    ):
        super().__init__()
        self.latent_dim, self.resolution, self.channels, self.w_dim, self.num_ws = latent_dim, resolution, channels, w_dim, 2
        self.num_classes = num_classes
        self.mlp = nn.Sequential(nn.Linear(latent_dim + num_classes, w_dim), nn.LeakyReLU(0.2), nn.Linear(w_dim, w_dim))
        self.register_buffer("average", torch.zeros(w_dim))  # tracked while training
        self.start = nn.Linear(w_dim, width * 16)
        self.register_buffer("fixed_noise", torch.randn(4, 4))
        self.noise_gain = nn.Parameter(torch.tensor(0.1))
        self.style = nn.Linear(w_dim, width)
        self.to_image = nn.Conv2d(width, channels, 3, padding=1)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.average

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        return [(4, 4)]

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        w = self.mlp(z if c is None else torch.cat([z, c], 1))  # [N, w_dim]
        if self.training:
            self.average.copy_(w.detach().mean(0).lerp(self.average, 0.99))
        return w

    def synthesis(self, ws: torch.Tensor, noise: list | None = None, noise_mode: str = "random") -> torch.Tensor:
        x = self.start(ws[:, 0]).reshape(len(ws), -1, 4, 4)  # [N, width, 4, 4]
        if noise is not None:
            n = noise[0]
        else:
            n = torch.randn_like(x[:, :1]) if noise_mode == "random" else self.fixed_noise.expand(len(ws), 1, 4, 4)
        x = F.leaky_relu(x + self.noise_gain * n, 0.2) * self.style(ws[:, 1])[:, :, None, None]
        x = F.interpolate(x, size=self.resolution, mode="bilinear", align_corners=False)
        return torch.tanh(self.to_image(x))  # [N, C, R, R]

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
                noise_mode: str = "random") -> torch.Tensor:
        w = self.mapping(z, c)
        if psi != 1:
            w = self.w_avg.lerp(w, psi)
        return self.synthesis(w[:, None].expand(-1, self.num_ws, -1), noise_mode=noise_mode)


class Discriminator(nn.Module):
    def __init__(self, resolution: int, channels: int, width: int = 8, num_classes: int = 0):
        super().__init__()
        self.embed = nn.Linear(num_classes, 1, bias=False) if num_classes else None  # a label's own offset
        self.net = nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(width, width, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Flatten(), nn.Linear(width * (resolution // 4) ** 2, 1))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.net(x).flatten()  # [N]
        return logits if c is None else logits + self.embed(c).flatten()
