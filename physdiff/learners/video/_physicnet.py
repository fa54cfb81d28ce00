"""PhysicNet (Wang et al., TKDE 2024): a vector-quantised prior and levels of optical-flow experts.

No code of PhysicNet is public and the paper's internals were not recoverable; this is the
implementable specification of ``docs/api/physicnet.md`` (``spatiotemporal.md`` section 3.3).
One step predicts frame ``t + 1`` from the last ``T`` frames ``x_{t-T+1..t}`` (the state)::

    z_g   = E_g(x_{t-T+1..t})                          global encoder, frames on channels, /4
    q_g   = VQ(z_g)                                    quantised prior (shared codebook)
    f_g   = up4(F_g([q_g, z_g]))                       flow in pixels, (B, 2, H, W)
    r_g   = R_g([x_t, up4([q_g, z_g])])                residual intensity (sources and sinks)
    y_g   = warp(x_t, f_g) + r_g                       global expert (backward warping)

and likewise for each local view (``S x S`` window at corners ``c``, the same for every frame of
the sequence) with its own encoder ``E_l``, flow head ``F_l`` and residual head ``R_l``, giving
``y_l`` on each window (warped with the border boundary at the window's edge). Fusion::

    y_L  = mean of the pasted local predictions over the windows covering a pixel
    g    = sigmoid(conv1x1([y_g, y_L]))               learned per-pixel gate
    y    = g y_L + (1 - g) y_g   on covered pixels,   y_g elsewhere

The auxiliary loss (added by the trainer to the prediction MSE) is the mean over the rollout's
steps of the quantiser losses of both levels plus ``smoothness * mean |grad f|_1`` of the flows.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ...core import PhysdiffError
from ...operators import warp
from .._base import SequenceLearner, State
from ..blocks import VectorQuantizer, crop, paste, random_corners, tiling_corners
from ..blocks._views import check_crop_size

__all__ = ["PhysicNet"]

BOUNDARIES = ("border", "periodic")
#: Spatial downsampling of the encoders (two stride-2 convolutions).
DOWNSAMPLE = 4


class _Residual(nn.Module):
    """``x + conv1x1(relu(conv3x3(relu(x))))`` (PastNet / VQ-VAE residual layer)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class _Encoder(nn.Sequential):
    """Frames on channels ``(B, T C, H, W)`` -> latent ``(B, D, H / 4, W / 4)``: two stride-2 convs, residual layers, 1x1."""

    def __init__(self, in_channels: int, hidden: int, residual_hidden: int, residual_layers: int, latent: int) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, hidden // 2, 4, stride=2, padding=1), nn.ReLU(),
                                   nn.Conv2d(hidden // 2, hidden, 4, stride=2, padding=1), nn.ReLU(),
                                   nn.Conv2d(hidden, hidden, 3, padding=1)]
        layers += [_Residual(hidden, residual_hidden) for _ in range(residual_layers)]
        layers += [nn.ReLU(), nn.Conv2d(hidden, latent, 1)]
        super().__init__(*layers)


class _Expert(nn.Module):
    """One level's flow expert: flow head on ``[q, z]`` and the residual intensity head."""

    def __init__(self, latent: int, channels: int, hidden: int, residual: bool) -> None:
        super().__init__()
        self.flow = nn.Sequential(nn.Conv2d(2 * latent, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, 2, 3, padding=1))
        # Zero-initialised outputs: training starts from the persistence forecast x_{t+1} = x_t.
        nn.init.zeros_(self.flow[-1].weight)
        nn.init.zeros_(self.flow[-1].bias)
        self.residual = None
        if residual:
            self.residual = nn.Sequential(nn.Conv2d(channels + 2 * latent, hidden, 3, padding=1), nn.ReLU(),
                                          nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
                                          nn.Conv2d(hidden, channels, 3, padding=1))
            nn.init.zeros_(self.residual[-1].weight)
            nn.init.zeros_(self.residual[-1].bias)

    def forward(self, last: torch.Tensor, features: torch.Tensor, boundary: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict the next frame from the ``last`` frame and latent ``features`` ``[q, z]``; also return the flow."""
        size = last.shape[-2:]
        # A flow of f latent pixels is DOWNSAMPLE f frame pixels.
        flow = DOWNSAMPLE * F.interpolate(self.flow(features), size=size, mode="bilinear", align_corners=False)
        prediction = warp(last, flow, boundary=boundary)
        if self.residual is not None:
            up = F.interpolate(features, size=size, mode="bilinear", align_corners=False)
            prediction = prediction + self.residual(torch.cat([last, up], dim=1))
        return prediction, flow


def _smoothness(flow: torch.Tensor) -> torch.Tensor:
    """``mean |d flow / dx| + mean |d flow / dy|`` (forward differences, L1), per pixel."""
    return (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean() + (flow[..., 1:] - flow[..., :-1]).abs().mean()


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise PhysdiffError(f"PhysicNet: {name}: expected True or False, got {value!r}.")
    return value


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"PhysicNet: {name}: expected a positive int, got {value!r}.")
    return value


class PhysicNet(SequenceLearner):
    """PhysicNet: global and local encoders, a shared VQ prior, flow experts per level, gated fusion.

    The state is a dict: the frames seen so far, at most the last ``context_frames`` (``"frames"``,
    ``(B, <= T, C, H, W)``; the encoders pad fewer by repeating the oldest), the local views' corners
    (``"corners"``, ``(B, n, 2)``, drawn once per rollout: random in training, the tiling in
    evaluation) and the running auxiliary loss (``"aux"``, ``"steps"``).

    Args:
        channels: ``C``.
        ndim: must be 2.
        context_frames: ``T``, frames the encoders see (the window of the state).
        latent_channels: ``D``, the encoders' output channels (= the code dimension).
        hidden: channels of the encoders' convolutions.
        residual_hidden: channels inside the encoders' residual layers.
        residual_layers: residual layers per encoder.
        head_hidden: channels of the flow and residual heads.
        num_codes: ``K``, the codebook size (shared by both levels).
        code_dim: the codebook dimension; None means ``latent_channels``, anything else is refused.
        commitment, decay, vq_update: the quantiser's (see :class:`~physdiff.learners.VectorQuantizer`).
        crop_size: ``S``, side of the local views (divisible by 4).
        num_crops: local views per sequence in training (evaluation uses the tiling of the frame).
        smoothness: weight of the flows' L1 gradient penalty.
        boundary: boundary of the global warp, ``"border"`` (images) or ``"periodic"`` (periodic PDE
            fields); local windows always warp with ``"border"``.
        quantize: ablation switch: False feeds ``[z, z]`` to the heads and has no VQ loss.
        local_experts: ablation switch: False keeps only the global expert.
        global_expert: ablation switch: False keeps only the local experts (pixels outside every
            window keep the last frame; the evaluation tiling covers the whole frame).
        residual: ablation switch: False predicts by warping alone.
    """

    supported_ndims = (2,)

    def __init__(
        self, channels: int, ndim: int = 2, *, context_frames: int = 10, latent_channels: int = 64, hidden: int = 128,
        residual_hidden: int = 32, residual_layers: int = 2, head_hidden: int = 64, num_codes: int = 512,
        code_dim: int | None = None, commitment: float = 0.25, decay: float = 0.99, vq_update: str = "ema",
        crop_size: int = 32, num_crops: int = 4, smoothness: float = 0.01, boundary: str = "border",
        quantize: bool = True, local_experts: bool = True, global_expert: bool = True, residual: bool = True,
    ) -> None:
        super().__init__(channels, ndim)
        for name, value in (("context_frames", context_frames), ("latent_channels", latent_channels),
                            ("hidden", hidden), ("residual_hidden", residual_hidden), ("head_hidden", head_hidden),
                            ("num_codes", num_codes), ("crop_size", crop_size), ("num_crops", num_crops)):
            _positive(value, name)
        if isinstance(residual_layers, bool) or not isinstance(residual_layers, int) or residual_layers < 0:
            raise PhysdiffError(f"PhysicNet: residual_layers: expected an int >= 0, got {residual_layers!r}.")
        if hidden < 2:
            raise PhysdiffError(f"PhysicNet: hidden: expected at least 2 channels, got {hidden!r}.")
        if code_dim is not None and code_dim != latent_channels:
            raise PhysdiffError(
                f"PhysicNet: code_dim: expected the encoders' latent_channels = {latent_channels} (the quantiser "
                f"compares encoder vectors with codes, so both must have the same dimension), got {code_dim!r}. "
                "Set code_dim=None or equal to latent_channels."
            )
        if crop_size % DOWNSAMPLE:
            raise PhysdiffError(f"PhysicNet: crop_size: expected a multiple of {DOWNSAMPLE} (the encoders downsample "
                                f"by {DOWNSAMPLE}), got {crop_size!r}.")
        if boundary not in BOUNDARIES:
            raise PhysdiffError(f"PhysicNet: boundary: expected one of {BOUNDARIES}, got {boundary!r}.")
        flags = {name: _flag(value, name) for name, value in (
            ("quantize", quantize), ("local_experts", local_experts), ("global_expert", global_expert),
            ("residual", residual))}
        if not (local_experts or global_expert):
            raise PhysdiffError("PhysicNet: local_experts=False and global_expert=False leave no expert to predict "
                                "with; keep at least one.")
        if not float(smoothness) >= 0.0:
            raise PhysdiffError(f"PhysicNet: smoothness: expected a weight >= 0, got {smoothness!r}.")
        self._config = {
            "channels": channels, "ndim": ndim, "context_frames": context_frames, "latent_channels": latent_channels,
            "hidden": hidden, "residual_hidden": residual_hidden, "residual_layers": residual_layers,
            "head_hidden": head_hidden, "num_codes": num_codes, "code_dim": code_dim, "commitment": commitment,
            "decay": decay, "vq_update": vq_update, "crop_size": crop_size, "num_crops": num_crops,
            "smoothness": float(smoothness), "boundary": boundary, **flags,
        }
        self.context_frames, self.crop_size, self.num_crops = context_frames, crop_size, num_crops
        self.smoothness, self.boundary = float(smoothness), boundary
        self.quantize, self.local_experts, self.global_expert = quantize, local_experts, global_expert
        encoder = (context_frames * channels, hidden, residual_hidden, residual_layers, latent_channels)
        self.quantizer = (VectorQuantizer(num_codes, latent_channels, commitment=commitment, decay=decay,
                                          update=vq_update) if quantize else None)
        self.global_encoder = _Encoder(*encoder) if global_expert else None
        self.global_head = _Expert(latent_channels, channels, head_hidden, residual) if global_expert else None
        self.local_encoder = _Encoder(*encoder) if local_experts else None
        self.local_head = _Expert(latent_channels, channels, head_hidden, residual) if local_experts else None
        self.gate = None
        if local_experts and global_expert:
            self.gate = nn.Conv2d(2 * channels, 1, 1)
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)  # g = 1/2 at the start: the mean of both levels
        self._aux: torch.Tensor | None = None

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    # ----------------------------------------------------------------- state
    def initial_state(self, u: torch.Tensor) -> State:
        b, _, h, w = u.shape
        if h % DOWNSAMPLE or w % DOWNSAMPLE:
            raise PhysdiffError(f"PhysicNet: frames: expected height and width divisible by {DOWNSAMPLE} (the encoders "
                                f"downsample by {DOWNSAMPLE}), got {h} x {w}. Crop or pad the frames.")
        corners = None
        if self.local_experts:
            check_crop_size(self.crop_size, h, w, "PhysicNet")
            if self.training:
                corners = random_corners(b, self.num_crops, self.crop_size, h, w, device=u.device)
            else:
                corners = tiling_corners(b, self.crop_size, h, w, device=u.device)
        return {"frames": u[:, None][:, :0], "corners": corners, "aux": u.new_zeros(()), "steps": 0}

    def _window(self, frames: torch.Tensor) -> torch.Tensor:
        """The last ``T`` frames on channels ``(B, T C, H, W)``, the oldest repeated when fewer."""
        missing = self.context_frames - frames.shape[1]
        if missing > 0:
            frames = torch.cat([frames[:, :1].expand(-1, missing, *frames.shape[2:]), frames], dim=1)
        return rearrange(frames[:, -self.context_frames:], "b t c h w -> b (t c) h w")

    # ----------------------------------------------------------------- levels
    def _features(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``[q, z]``, the VQ loss and the code indices of a latent (``[z, z]``, 0, None without quantiser)."""
        if self.quantizer is None:
            return torch.cat([z, z], dim=1), z.new_zeros(()), None
        out = self.quantizer(z)
        return torch.cat([out.quantized, z], dim=1), out.loss, out.indices

    def explain(self, u: torch.Tensor, state: State) -> dict[str, Any]:
        """One step with everything it computes: ``prediction``, per-level ``global_*``/``local_*``
        predictions, flows (pixels) and code indices, the ``gate``, the ``corners`` and the ``aux`` loss
        (entries of absent levels are None). :meth:`step` is this, keeping the prediction."""
        frames = torch.cat([state["frames"], u[:, None]], dim=1)[:, -self.context_frames:]
        window = self._window(frames)
        b, c, h, w = u.shape
        out: dict[str, Any] = {"corners": state["corners"], "gate": None}
        aux = u.new_zeros(())
        global_prediction = u
        if self.global_expert:
            features, vq_loss, out["global_codes"] = self._features(self.global_encoder(window))
            global_prediction, flow = self.global_head(u, features, self.boundary)
            aux = aux + vq_loss + self.smoothness * _smoothness(flow)
            out["global_flow"] = flow
        out["global_prediction"] = global_prediction if self.global_expert else None
        prediction = global_prediction
        if self.local_experts:
            corners = state["corners"]
            n = corners.shape[1]
            views = rearrange(crop(window, corners, self.crop_size), "b n c h w -> (b n) c h w")
            last = rearrange(crop(u, corners, self.crop_size), "b n c h w -> (b n) c h w")
            features, vq_loss, codes = self._features(self.local_encoder(views))
            local, flow = self.local_head(last, features, "border")
            aux = aux + vq_loss + self.smoothness * _smoothness(flow)
            pasted = paste(rearrange(local, "(b n) c h w -> b n c h w", n=n), corners, h, w)
            cover = paste(torch.ones_like(local[:, :1]).view(b, n, 1, self.crop_size, self.crop_size), corners, h, w)
            covered = cover > 0
            local_mean = pasted / cover.clamp(min=1.0)
            if self.gate is not None:
                gate = torch.sigmoid(self.gate(torch.cat([global_prediction, local_mean], dim=1)))
                fused = gate * local_mean + (1.0 - gate) * global_prediction
                out["gate"] = gate
            else:
                fused = local_mean
            prediction = torch.where(covered, fused, global_prediction)
            out.update(local_prediction=local_mean, local_flow=paste(
                rearrange(flow, "(b n) c h w -> b n c h w", n=n), corners, h, w) / cover.clamp(min=1.0),
                local_codes=None if codes is None else codes.view(b, n, *codes.shape[1:]), covered=covered)
        out.update(prediction=prediction, aux=aux, frames=frames)
        return out

    def step(self, u: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        if state is None:
            state = self.initial_state(u)
        out = self.explain(u, state)
        state = {"frames": out["frames"], "corners": state["corners"], "aux": state["aux"] + out["aux"],
                 "steps": state["steps"] + 1}
        return out["prediction"], state

    # ----------------------------------------------------------------- rollout
    def forward(self, context: torch.Tensor, n_steps: int, *, state: State = None, return_state: bool = False,
                **kwargs: Any) -> torch.Tensor | tuple[torch.Tensor, State]:
        """:meth:`SequenceLearner.forward`, with the context frames loaded into the state at once.

        The warm-up frames only fill the window (running the experts on them would be discarded
        work), so the first prediction sees exactly the last ``context_frames`` frames. The
        rollout's auxiliary loss (the mean over its prediction steps) is kept for
        :meth:`auxiliary_loss`.
        """
        context = self.check_frames(context)
        if state is None:
            state = self.initial_state(context[:, 0])
        # what warm-up steps on context[:, :-1] would leave in the state: the frames appended to the window
        frames = torch.cat([state["frames"], context[:, :-1]], dim=1)[:, -self.context_frames:]
        state = {**state, "frames": frames}
        predictions, state = super().forward(context[:, -1:], n_steps, state=state, return_state=True, **kwargs)
        self._aux = state["aux"] / max(state["steps"], 1)
        return (predictions, state) if return_state else predictions

    def auxiliary_loss(self, context: torch.Tensor) -> torch.Tensor | None:
        """The last rollout's mean per-step VQ losses plus flow smoothness (None before any rollout)."""
        aux, self._aux = self._aux, None
        return aux
