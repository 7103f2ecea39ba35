"""Parity against golden outputs of the official DCVC-family code (../shared/reference/<model>).

Shared by the DCVC-DC and DCVC-FM parity tests: official-format weights rebuilt with refgen,
converted by `convert_official`, loaded strict; the goldens' clip coded through the one coding
loop; the reference README's tolerances checked frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import Tensor

import lvc_zoo
from lvc_zoo.coding.estimate import Estimate
from lvc_zoo.models import VideoCodec
from lvc_zoo.models.codec import psnr

COMPONENTS = ("y", "z", "mv_y", "mv_z")
"""Bit components every DCVC-family golden records (bits_<name>)."""

_MODELS: dict[tuple[str, str], VideoCodec] = {}
"""Converted full-width models by (model, spec variant), built once per session (each takes seconds)."""
_OFFICIAL: dict[tuple[Path, bool], tuple[dict[str, Tensor], dict[str, Tensor]]] = {}
"""Official-format (intra, inter) state_dicts by (reference folder, ladder), built once per session."""


def official_state_dicts(refgen: ModuleType, folder: Path, ladder: bool = False) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The refgen (intra, inter) state_dicts of the plain or ladder spec in `folder`, as tensors (read-only: shared)."""
    key = (folder, ladder)
    if key not in _OFFICIAL:
        suffix = "_ladder" if ladder else ""
        _OFFICIAL[key] = tuple(  # type: ignore[assignment]
            {k: torch.as_tensor(v) for k, v in refgen.state_dict_from_spec(folder / f"spec_{part}{suffix}.json").items()}
            for part in ("i", "p")
        )
    return _OFFICIAL[key]


def converted_model(name: str, refgen: ModuleType, folder: Path, ladder: bool) -> VideoCodec:
    """Model `name` with the refgen weights of the plain or ladder spec, converted and loaded strict."""
    key = (name, "ladder" if ladder else "plain")
    if key not in _MODELS:
        intra, inter = official_state_dicts(refgen, folder, ladder)
        model = lvc_zoo.load(name, pretrained=False)
        model.load_state_dict(lvc_zoo.convert_official(name, intra=intra, inter=inter), strict=True)
        _MODELS[key] = model.eval()
    return _MODELS[key]


class SymbolCounter(Estimate):
    """`Estimate("round")` that also counts the nonzero conditional symbols per tag."""

    def __init__(self) -> None:
        super().__init__(mode="round")
        self.nonzero: dict[str, int] = {}

    def code_conditional(self, residual, scales, mask, distribution, tag):  # noqa: ANN001, ANN201 (the Coder's signature)
        symbols = super().code_conditional(residual, scales, mask, distribution, tag)
        self.nonzero[tag] = self.nonzero.get(tag, 0) + int(torch.count_nonzero(symbols))
        return symbols


@dataclass
class GoldenRun:
    """Our coding of a golden's clip, per frame."""

    frame_types: list[str]
    bits: list[float]
    components: dict[str, list[float]]
    nonzero: dict[str, list[int]]
    recon: Tensor
    """(T, 3, h, w) clamped RGB reconstruction (what the API returns)."""
    raw: Tensor
    """(T, 3, h, w) pre-clamp network output in the model's colour space, where the oracle hooked it."""
    psnr: list[float]


@torch.inference_mode()
def code_golden_clip(model: VideoCodec, refgen: ModuleType, golden: dict) -> GoldenRun:
    """Code the golden's refgen clip at its q_index, single intra frame, through `VideoCodec.code_clip`."""
    frames = torch.from_numpy(refgen.frames(int(golden["seed"]), int(golden["t"]), int(golden["h"]), int(golden["w"])))
    types = model.frame_types(frames.shape[0], intra_period=-1)
    raw: list[Tensor] = []
    hooks = [
        model.intra.refine.register_forward_hook(lambda m, i, out: raw.append(out.clone())),
        model.inter.recon_generation.register_forward_hook(lambda m, i, out: raw.append(out[1].clone())),
    ]
    coders = [SymbolCounter() for _ in types]
    try:
        torch.manual_seed(0)
        size = tuple(frames.shape[-2:])
        quality = int(golden["q_index"])
        recon = [
            x_hat for x_hat, _ in model.code_clip(frames, types, size, quality, lambda i: model.shared_coders(types[i], coders[i]))
        ]
    finally:
        for hook in hooks:
            hook.remove()
    return GoldenRun(
        frame_types=types,
        bits=[float(coder.total_bits()) for coder in coders],
        components={tag: [float(coder.bits.get(tag, 0.0)) for coder in coders] for tag in COMPONENTS},
        nonzero={tag: [coder.nonzero.get(tag, 0) for coder in coders] for tag in ("y", "mv_y")},
        recon=torch.cat(recon),
        raw=torch.cat(raw)[..., : frames.shape[-2], : frames.shape[-1]],
        psnr=[psnr(recon[t], frames[t : t + 1]) for t in range(len(types))],
    )


def psnr_np(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB, peak 1, in float64."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def check_against_golden(run: GoldenRun, golden: dict, recon_key: str = "recon") -> None:
    """The reference README's tolerances: bits within 0.5 %, components within 1 % or 50 bits,
    reconstructions (clamped `recon_key`, and pre-clamp) >= 50 dB against the golden, PSNR vs
    the input within 0.02 dB."""
    assert run.frame_types == ["I" if t == 0 else "P" for t in golden["frame_type"]]
    np.testing.assert_allclose(run.bits, golden["bits"], rtol=5e-3)
    for name in COMPONENTS:
        ours, ref = np.asarray(run.components[name]), golden[f"bits_{name}"]
        assert np.all(np.abs(ours - ref) <= np.maximum(0.01 * np.abs(ref), 50.0)), (name, ours, ref)
    recon, raw = run.recon.numpy(), run.raw.numpy()
    for t in range(len(recon)):
        assert psnr_np(recon[t], golden[recon_key][t]) >= 50.0, f"frame {t} clamped recon"
        assert psnr_np(raw[t], golden["recon_raw"][t]) >= 50.0, f"frame {t} pre-clamp recon"
    np.testing.assert_allclose(run.psnr, golden["psnr"], atol=0.02)
