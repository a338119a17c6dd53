"""IR-SDE (mean-reverting SDE, Luo et al. 2023) as used by DA-CLIP's universal restoration.

dx = theta_t (mu - x) dt + sigma_t dw, with mu the LQ image and sigma_t^2 / theta_t = 2 lambda^2
(lambda = ``max_sigma``/255). Steps t run 1..T; the schedule tensors (``thetas``, ``sigmas``,
``thetas_cumsum``, ``sigma_bars``, ``dt``) and the step formulas equal the official
``utils/sde_utils.IRSDE`` in float32 (tested against fixtures from it).

Every stochastic step takes an optional ``noise`` tensor so callers (tests, tiled inference)
can supply it; by default it is drawn from ``generator``: one ``torch.Generator`` for the whole
batch, or a list with one per image (:func:`image_generators`). With one generator per image,
seeded from (seed, the image's key), an image's noise stream - and so its restored output - does
not depend on which other images share its batch, on its position there, or on the batch size.

Sampling steps (``with_steps``): like the official ``IRSDE(sample_T=...)``, a chain of fewer
steps rebuilds the schedule for that many steps (same max_sigma and eps, so it still ends at the
LQ's mean-reverted state) and calls the network at time ``t * T / steps``, the training time it
stands for.

What the network predicts (``prediction``): ``noise`` (the official IR-SDE: the Gaussian noise
in x_t) or ``residual`` (x_0 - mu, from which the noise follows exactly). The two are the same
model at the optimum, and the training loss and the samplers are unchanged (they see the implied
noise). They differ in how an imperfect network's errors travel along the chain. The posterior
step maps a deviation d of x_t to term1 * d + term2 * (error of the x_0 estimate). With noise
prediction that error is exp(thetas_cumsum[t] * dt) * (d - sigma_bar * (error of the noise)), so a
deviation the network does not recognise as noise grows by exp(thetas[t] * dt) per step, up to
1/eps (200x) over the chain; with residual prediction the x_0 estimate is the network's output
itself and the deviation shrinks by term1 < 1 per step. The official weights predict noise;
``residual`` is for small networks trained briefly (the tiny recipes).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

import torch

NoiseModel = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
Generators = torch.Generator | Sequence[torch.Generator] | None


def image_seed(seed: int, key: str) -> int:
    """The seed of one image's noise stream: a hash of (run seed, image key), so it does not
    depend on what else is sampled with the image (63 bits: ``manual_seed`` takes int64)."""
    digest = hashlib.blake2b(f"{int(seed)}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def image_generators(
    seed: int, keys: Sequence[str], device: str | torch.device = "cpu"
) -> list[torch.Generator]:
    """One generator per image (see :func:`image_seed`), for ``IRSDE.sample(generator=...)``."""
    return [torch.Generator(device=device).manual_seed(image_seed(seed, k)) for k in keys]


def draw_noise(like: torch.Tensor, generator: Generators = None) -> torch.Tensor:
    """N(0, 1) shaped like ``like``: from one generator, or image i from ``generator[i]``."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    if len(generator) != like.shape[0]:
        raise ValueError(f"{len(generator)} generators for a batch of {like.shape[0]} images")
    return torch.stack(
        [torch.randn(like.shape[1:], generator=g, device=like.device, dtype=like.dtype)
         for g in generator]
    )  # fmt: skip


def cosine_thetas(steps: int, s: float = 0.008) -> torch.Tensor:
    """Cosine theta schedule of length ``steps + 1`` (index 0 unused)."""
    n = steps + 2
    x = torch.linspace(0, n, n + 1, dtype=torch.float32)
    alphas_cumprod = torch.cos(((x / n) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    return 1 - alphas_cumprod[1:-1]


def linear_thetas(steps: int) -> torch.Tensor:
    n = steps + 1
    scale = 1000 / n
    return torch.linspace(scale * 0.0001, scale * 0.02, n, dtype=torch.float32)


def constant_thetas(steps: int) -> torch.Tensor:
    return torch.ones(steps + 1, dtype=torch.float32)


SCHEDULES = {"cosine": cosine_thetas, "linear": linear_thetas, "constant": constant_thetas}
PREDICTIONS = ("noise", "residual")


class IRSDE:
    """Schedules and forward/reverse steps of IR-SDE; ``mu`` is passed explicitly (no state)."""

    def __init__(
        self,
        max_sigma: float = 50,
        T: int = 100,
        schedule: str = "cosine",
        eps: float = 0.005,
        device: str | torch.device = "cpu",
        prediction: str = "noise",
        time_scale: float = 1.0,
    ) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown SDE schedule {schedule!r}; choose one of {list(SCHEDULES)}")
        if prediction not in PREDICTIONS:
            raise ValueError(f"unknown SDE prediction {prediction!r}; choose one of {PREDICTIONS}")
        self.prediction = prediction
        self.T = T
        self.schedule = schedule
        self.eps = eps
        # network time per step t: T_train / steps for a shortened chain (see with_steps)
        self.time_scale = time_scale
        self.max_sigma = max_sigma / 255 if max_sigma >= 1 else max_sigma
        self.device = torch.device(device)
        thetas = SCHEDULES[schedule](T)
        sigmas = torch.sqrt(self.max_sigma**2 * 2 * thetas)
        thetas_cumsum = torch.cumsum(thetas, dim=0) - thetas[0]
        # dt is chosen so that exp(-thetas_cumsum[T] * dt) == eps (the mean has reverted).
        self.dt = -1 / thetas_cumsum[-1] * math.log(eps)
        sigma_bars = torch.sqrt(self.max_sigma**2 * (1 - torch.exp(-2 * thetas_cumsum * self.dt)))
        self.thetas = thetas.to(self.device)
        self.sigmas = sigmas.to(self.device)
        self.thetas_cumsum = thetas_cumsum.to(self.device)
        self.sigma_bars = sigma_bars.to(self.device)
        self.dt = self.dt.to(self.device)

    def with_steps(self, steps: int | None) -> IRSDE:
        """This SDE sampled in ``steps`` reverse steps (the official ``sample_T``): the schedule
        rebuilt for ``steps``, the network called at ``t * T / steps``. None or T: itself."""
        if steps is None or steps == self.T:
            return self
        if int(steps) < 1:
            raise ValueError(f"sampling steps must be >= 1, got {steps}")
        return IRSDE(
            self.max_sigma, int(steps), self.schedule, self.eps, self.device, self.prediction,
            time_scale=self.T * self.time_scale / int(steps),
        )  # fmt: skip

    # -- marginals ------------------------------------------------------------------------
    def mu_bar(self, x0: torch.Tensor, mu: torch.Tensor, t) -> torch.Tensor:
        """Mean of x_t given x_0."""
        return mu + (x0 - mu) * torch.exp(-self.thetas_cumsum[t] * self.dt)

    def sigma_bar(self, t) -> torch.Tensor:
        return self.sigma_bars[t]

    def start_state(self, lq: torch.Tensor, noise: torch.Tensor | None = None, generator=None):
        """x_T = LQ + N(0, max_sigma^2): the start of sampling."""
        if noise is None:
            noise = draw_noise(lq, generator)
        return lq + noise * self.max_sigma

    def random_states(
        self, x0: torch.Tensor, mu: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pairs: uniform t in 1..T per sample and x_t ~ p(x_t | x_0)."""
        b = x0.shape[0]
        t = torch.randint(1, self.T + 1, (b, 1, 1, 1), generator=generator, device=x0.device)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        return t, noise * self.sigma_bar(t) + self.mu_bar(x0, mu, t)

    @classmethod
    def from_config(cls, cfg: dict, device: str | torch.device = "cpu") -> IRSDE:
        """The SDE of a model config's ``sde`` block."""
        return cls(
            cfg["max_sigma"], cfg["T"], cfg["schedule"], cfg["eps"], device=device,
            prediction=cfg.get("prediction", "noise"),
        )  # fmt: skip

    # -- reverse process --------------------------------------------------------------------
    def noise_from_output(self, out: torch.Tensor, xt: torch.Tensor, mu: torch.Tensor, t):
        """The noise a network output stands for (see ``prediction`` in the module docstring)."""
        if self.prediction == "noise":
            return out
        return (xt - self.mu_bar(out + mu, mu, t)) / self.sigma_bar(t)

    def x0_from_output(self, out: torch.Tensor, xt: torch.Tensor, mu: torch.Tensor, t):
        """The x_0 estimate a network output stands for (residual: mu + out, exactly)."""
        if self.prediction == "residual":
            return out + mu
        return self.x0_from_noise(xt, mu, out, t)

    def score_from_noise(self, noise: torch.Tensor, t) -> torch.Tensor:
        return -noise / self.sigma_bar(t)

    def x0_from_noise(self, xt: torch.Tensor, mu: torch.Tensor, noise: torch.Tensor, t):
        return (xt - mu - self.sigma_bar(t) * noise) * torch.exp(
            self.thetas_cumsum[t] * self.dt
        ) + mu

    def reverse_sde_step_mean(self, xt: torch.Tensor, mu: torch.Tensor, score: torch.Tensor, t):
        drift = (self.thetas[t] * (mu - xt) - self.sigmas[t] ** 2 * score) * self.dt
        return xt - drift

    def reverse_sde_step(self, xt, mu, score, t, noise=None, generator=None) -> torch.Tensor:
        """Euler-Maruyama step of the reverse SDE."""
        if noise is None:
            noise = draw_noise(xt, generator)
        dispersion = self.sigmas[t] * (noise * math.sqrt(self.dt))
        return self.reverse_sde_step_mean(xt, mu, score, t) - dispersion

    def reverse_optimum_step(self, xt: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor, t):
        """Mean of the optimal x_{t-1} given x_t and x_0 (the training target)."""
        a = torch.exp(-self.thetas[t] * self.dt)
        b = torch.exp(-self.thetas_cumsum[t] * self.dt)
        c = torch.exp(-self.thetas_cumsum[t - 1] * self.dt)
        term1 = a * (1 - c**2) / (1 - b**2)
        term2 = c * (1 - a**2) / (1 - b**2)
        return term1 * (xt - mu) + term2 * (x0 - mu) + mu

    def reverse_optimum_std(self, t) -> torch.Tensor:
        a = torch.exp(-2 * self.thetas[t] * self.dt)
        b = torch.exp(-2 * self.thetas_cumsum[t] * self.dt)
        c = torch.exp(-2 * self.thetas_cumsum[t - 1] * self.dt)
        var = (1 - a) * (1 - c) / (1 - b)
        log_var = torch.log(torch.clamp(var, min=1e-20 * self.dt))
        return (0.5 * log_var).exp() * self.max_sigma

    def reverse_posterior_step(self, xt, mu, pred_noise, t, noise=None, generator=None):
        """Posterior sampling step: x0 from the predicted noise, then sample p(x_{t-1}|x_t,x0)."""
        if noise is None:
            noise = draw_noise(xt, generator)
        x0 = self.x0_from_noise(xt, mu, pred_noise, t)
        return self.reverse_optimum_step(xt, x0, mu, t) + self.reverse_optimum_std(t) * noise

    @torch.no_grad()
    def sample(
        self,
        model: NoiseModel,
        mu: torch.Tensor,
        xt: torch.Tensor | None = None,
        mode: str = "posterior",
        generator: Generators = None,
        progress: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """Run the reverse process from x_T to x_0. ``model(x, mu, t)`` returns the network's
        output (the noise, or the residual: see ``prediction``); ``generator``: one for the
        batch or one per image (module docstring); ``progress(t)`` after each step."""
        if mode not in ("posterior", "sde"):
            raise ValueError(f"unknown sampling mode {mode!r}; use 'posterior' or 'sde'")
        x = self.start_state(mu, generator=generator) if xt is None else xt.clone()
        for t in range(self.T, 0, -1):
            pred = self.noise_from_output(model(x, mu, t * self.time_scale), x, mu, t)
            if mode == "posterior":
                x = self.reverse_posterior_step(x, mu, pred, t, generator=generator)
            else:
                score = self.score_from_noise(pred, t)
                x = self.reverse_sde_step(x, mu, score, t, generator=generator)
            if progress is not None:
                progress(t)
        return x
