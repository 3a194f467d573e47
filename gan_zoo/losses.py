"""Adversarial objectives over discriminator logits.

Sign convention: the discriminator outputs an unbounded logit D(x), larger = "more real".
Each objective has `d_loss(real_logits, fake_logits)` (minimised by D) and `g_loss(fake_logits)`
(minimised by G); both return the batch mean. Objectives never touch the networks: a network's
output activation is the network's business.
"""
import torch
import torch.nn.functional as F


class NonSaturating:
    """Logistic loss with the non-saturating generator objective (Goodfellow et al. 2014, Sec. 3)."""

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        # -log(sigmoid(D(x))) - log(1 - sigmoid(D(G(z)))) = softplus(-D(x)) + softplus(D(G(z)))
        return (F.softplus(-real_logits) + F.softplus(fake_logits)).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        # -log(sigmoid(D(G(z)))) = softplus(-D(G(z)))
        return F.softplus(-fake_logits).mean()


class Hinge:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018)."""

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        # max(0, 1 - D(x)) + max(0, 1 + D(G(z)))
        return (F.relu(1.0 - real_logits) + F.relu(1.0 + fake_logits)).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


class Wasserstein:
    """Wasserstein critic loss (Arjovsky et al. 2017). Needs a Lipschitz constraint: pair it with
    the gradient penalty (Gulrajani et al. 2017) and, as in PGGAN, the drift penalty."""

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        # E[D(G(z))] - E[D(x)]
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


class LeastSquares:
    """Least-squares loss (Mao et al. 2017, eq. 9 with a=0, b=1, c=1)."""

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        # 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2
        return 0.5 * ((real_logits - 1.0).square() + fake_logits.square()).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        # 1/2 (D(G(z)) - 1)^2
        return 0.5 * (fake_logits - 1.0).square().mean()
