import math

import pytest
import torch
from torch import nn

from gan_zoo.losses import Hinge, LeastSquares, NonSaturating, Wasserstein
from gan_zoo.regularizers import R1, Drift, GradientPenalty

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


@pytest.mark.parametrize(
    "objective, d_expected, g_expected",
    [
        # softplus(-real) + softplus(fake), mean over 2; G: softplus(-fake)
        (NonSaturating(), (softplus(-2) + softplus(0.5) + softplus(1) + softplus(-3)) / 2, (softplus(-0.5) + softplus(3)) / 2),
        # relu(1 - real) + relu(1 + fake): (0 + 1.5) and (2 + 0); G: -mean(fake)
        (Hinge(), (1.5 + 2.0) / 2, 1.25),
        # mean(fake) - mean(real) = -1.25 - 0.5; G: -mean(fake)
        (Wasserstein(), -1.75, 1.25),
        # 0.5 * ((real - 1)^2 + fake^2): (1 + 0.25) and (4 + 9); G: 0.5 * (fake - 1)^2
        (LeastSquares(), 0.5 * (1.25 + 13.0) / 2, 0.5 * (0.25 + 16.0) / 2),
    ],
)
def test_losses_on_known_logits(objective, d_expected, g_expected):
    assert objective.d_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert objective.g_loss(FAKE).item() == pytest.approx(g_expected, rel=1e-6)


def test_nonsaturating_is_minimised_by_a_confident_discriminator():
    confident = NonSaturating().d_loss(torch.full((4,), 10.0), torch.full((4,), -10.0))
    fooled = NonSaturating().d_loss(torch.full((4,), -10.0), torch.full((4,), 10.0))
    assert confident < 1e-3 < 10 < fooled


def _linear_discriminator(w: torch.Tensor, b: float = 0.3) -> nn.Module:
    d = nn.Sequential(nn.Flatten(), nn.Linear(w.numel(), 1))
    with torch.no_grad():
        d[1].weight.copy_(w.flatten()[None])
        d[1].bias.fill_(b)
    return d


def test_r1_of_linear_discriminator_is_squared_weight_norm():
    # D(x) = <w, x> + b  =>  grad_x D = w for every x  =>  E||grad||^2 = ||w||^2
    torch.manual_seed(0)
    w = torch.randn(1, 3, 4, 4)
    d = _linear_discriminator(w)
    real = torch.randn(5, 3, 4, 4).requires_grad_(True)
    r1 = R1(gamma=10.0)
    assert r1(d, real, None, d(real)).item() == pytest.approx(w.square().sum().item(), rel=1e-5)
    assert r1.weight == 5.0  # gamma / 2


def test_gradient_penalty_of_linear_discriminator():
    # grad of a linear D is w everywhere: (||w|| - 1)^2
    torch.manual_seed(0)
    w = torch.randn(1, 2, 4, 4)
    d = _linear_discriminator(w)
    real, fake = torch.randn(6, 2, 4, 4), torch.randn(6, 2, 4, 4)
    expected = (w.norm() - 1.0).square().item()
    assert GradientPenalty()(d, real, fake, None).item() == pytest.approx(expected, rel=1e-4)


def test_drift_is_mean_squared_real_logit():
    assert Drift()(None, None, None, torch.tensor([1.0, -3.0])).item() == pytest.approx(5.0)


def test_r1_penalty_has_gradient_for_the_discriminator():
    d = _linear_discriminator(torch.ones(1, 1, 2, 2))
    real = torch.randn(3, 1, 2, 2).requires_grad_(True)
    R1()(d, real, None, d(real)).backward()
    assert d[1].weight.grad.abs().sum() > 0
