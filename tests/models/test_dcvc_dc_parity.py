"""DCVC-DC against golden outputs of the official implementation (../shared/reference/dcvc_dc).

Procedure and tolerances from the reference README: official-format weights rebuilt with
refgen, converted by `convert_official`, loaded strict; frames from refgen; bits per frame
within 0.5 %, each component within 1 % or 50 bits, clamped and pre-clamp reconstructions at
>= 50 dB PSNR against the golden ones, PSNR vs input within 0.02 dB.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lvc_zoo
from lvc_zoo.models import DCVCDC

GOLDENS = ["golden_qLOW", "golden_qHIGH", "golden_ladder_qLOW", "golden_ladder_qHIGH"]
COMPONENTS = ("y", "z", "mv_y", "mv_z")

pytestmark = [pytest.mark.parity, pytest.mark.slow]


_MODELS: dict[str, DCVCDC] = {}
"""Converted full-width models by spec variant, built once per session (each takes seconds)."""


def _converted_model(refgen, folder, ladder: bool) -> DCVCDC:
    """DCVC-DC with the refgen weights of the plain or ladder spec, converted and loaded strict."""
    variant = "ladder" if ladder else "plain"
    if variant not in _MODELS:
        suffix = "_ladder" if ladder else ""
        intra = refgen.state_dict_from_spec(folder / f"spec_i{suffix}.json")
        inter = refgen.state_dict_from_spec(folder / f"spec_p{suffix}.json")
        model = lvc_zoo.load("dcvc_dc", pretrained=False)
        model.load_state_dict(lvc_zoo.convert_official("dcvc_dc", intra=intra, inter=inter), strict=True)
        _MODELS[variant] = model.eval()
    return _MODELS[variant]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


@pytest.mark.parametrize("golden_name", GOLDENS)
def test_matches_official_golden(golden_name: str, refgen, reference_dir) -> None:
    folder = reference_dir / "dcvc_dc"
    golden = np.load(folder / f"{golden_name}.npz")
    model = _converted_model(refgen, folder, ladder="ladder" in golden_name)
    frames = torch.from_numpy(refgen.frames(int(golden["seed"]), int(golden["t"]), int(golden["h"]), int(golden["w"])))

    raw: list[torch.Tensor] = []  # pre-clamp outputs, captured where the oracle hooked them
    hooks = [
        model.intra.refine.register_forward_hook(lambda m, i, out: raw.append(out.clone())),
        model.inter.recon_generation.register_forward_hook(lambda m, i, out: raw.append(out[1].clone())),
    ]
    try:
        torch.manual_seed(0)
        res = model.estimate(frames, quality=int(golden["q_index"]), intra_period=-1)
    finally:
        for hook in hooks:
            hook.remove()

    assert res.frame_types == ["I" if t == 0 else "P" for t in golden["frame_type"]]
    np.testing.assert_allclose(res.bits, golden["bits"], rtol=5e-3)
    for name in COMPONENTS:
        ours, ref = np.asarray(res.components[name]), golden[f"bits_{name}"]
        assert np.all(np.abs(ours - ref) <= np.maximum(0.01 * np.abs(ref), 50.0)), (name, ours, ref)
    recon = res.recon.numpy()
    pre_clamp = torch.cat(raw)[..., : golden["h"], : golden["w"]].numpy()
    for t in range(len(recon)):
        assert _psnr(recon[t], golden["recon"][t]) >= 50.0, f"frame {t} clamped recon"
        assert _psnr(pre_clamp[t], golden["recon_raw"][t]) >= 50.0, f"frame {t} pre-clamp recon"
    np.testing.assert_allclose(res.psnr, golden["psnr"], atol=0.02)
