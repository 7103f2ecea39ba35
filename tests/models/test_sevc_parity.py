"""SEVC against golden outputs of the official implementation (../shared/reference/sevc).

Procedure and tolerances from the reference README: official-format weights rebuilt with
refgen (the q-scale anchors replaced by `qvar_overrides.json` for golden_qvar), converted by
`convert_official`, loaded strict; frames from refgen; per frame: total bits within 0.5 %,
each component within 1 % or 2 bits, clamped and pre-clamp reconstructions >= 50 dB PSNR
against the golden ones, PSNR vs input within 0.01 dB, the base-layer input (MATLAB
imresize) within 1e-5 and the base-layer reconstruction before its clamp >= 50 dB.
Intermediate tensors are observed with forward hooks on the public submodules.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lvc_zoo
from lvc_zoo.models import SEVC

CASES = [
    ("golden_q0", ""),
    ("golden_q3", ""),
    ("golden_qvar", "q0_"),
    ("golden_qvar", "q3_"),
    ("golden_long_q0", ""),
    ("golden_pad_q0", "a_"),
    ("golden_pad_q0", "b_"),
]
COMPONENTS = ("i_y", "i_z", "bl_mv_y", "bl_mv_z", "bl_y", "bl_z", "el_y")

pytestmark = [pytest.mark.parity, pytest.mark.slow]

_MODELS: dict[str, SEVC] = {}
"""Converted full-width models by spec variant ("plain" or "qvar"), built once per session."""


def _converted_model(refgen, folder, qvar: bool) -> SEVC:
    """SEVC with the refgen weights of the plain or q-override specs, converted and loaded strict."""
    variant = "qvar" if qvar else "plain"
    if variant not in _MODELS:
        specs = {name: json.loads((folder / f"spec_{name}.json").read_text()) for name in ("i", "p")}
        if qvar:
            overrides = json.loads((folder / "qvar_overrides.json").read_text())["tensors"]
            for spec in specs.values():
                spec["tensors"].update({k: v for k, v in overrides.items() if k in spec["tensors"]})
        intra, inter = (refgen.state_dict_from_spec(specs[name]) for name in ("i", "p"))
        model = lvc_zoo.load("sevc", pretrained=False)
        model.load_state_dict(lvc_zoo.convert_official("sevc", intra=intra, inter=inter), strict=True)
        _MODELS[variant] = model.eval()
    return _MODELS[variant]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


@pytest.mark.parametrize(("golden_name", "prefix"), CASES)
def test_matches_official_golden(golden_name: str, prefix: str, refgen, reference_dir) -> None:
    folder = reference_dir / "sevc"
    stored = np.load(folder / f"{golden_name}.npz")
    golden = {key[len(prefix) :]: stored[key] for key in stored.files if key.startswith(prefix)}
    meta = json.loads(str(golden["meta_json"]))
    model = _converted_model(refgen, folder, qvar=golden_name == "golden_qvar")
    frames = torch.from_numpy(refgen.frames(meta["seed"], meta["t"], meta["h"], meta["w"]))
    h, w = meta["h"], meta["w"]

    seen: dict[str, list[torch.Tensor]] = {"pre": [], "bl_input": [], "bl_ref": [], "bl_pre": []}

    def flow_inputs(module, inputs, output) -> None:
        seen["bl_input"].append(inputs[0].clone())
        seen["bl_ref"].append(inputs[1].clone())

    inter = model.inter
    hooks = [
        model.intra.refine.register_forward_hook(lambda m, i, out: seen["pre"].append(out.clone())),
        inter.enhancement.recon_generation.register_forward_hook(lambda m, i, out: seen["pre"].append(out[1].clone())),
        inter.base.flow.register_forward_hook(flow_inputs),
        inter.base.recon_generation.register_forward_hook(lambda m, i, out: seen["bl_pre"].append(out[1].clone())),
    ]
    try:
        res = model.estimate(frames, quality=meta["q_index"], intra_period=-1)
    finally:
        for hook in hooks:
            hook.remove()

    assert res.frame_types == ["I" if t == 0 else "P" for t in golden["frame_type"]]
    np.testing.assert_allclose(res.bits, golden["bits"], rtol=5e-3)
    for name in COMPONENTS:
        ours, ref = np.asarray(res.components[name]), np.nan_to_num(golden[name])
        assert np.all(np.abs(ours - ref) <= np.maximum(0.01 * np.abs(ref), 2.0)), (name, ours, ref)
    np.testing.assert_allclose(res.psnr, golden["psnr"], atol=0.01)

    recon = res.recon.numpy()
    pre_clamp = [x[..., :h, :w].numpy() for x in seen["pre"]]
    for t in range(len(recon)):
        assert _psnr(recon[t], golden["recon"][t]) >= 50.0, f"frame {t} clamped recon"
        assert _psnr(pre_clamp[t][0], golden["recon_preclamp"][t]) >= 50.0, f"frame {t} pre-clamp recon"
    # frame 0: the base layer's reference built from the I reconstruction (read by frame 1's flow)
    assert _psnr(seen["bl_ref"][0][0].numpy(), golden["bl_recon"][0]) >= 50.0, "I-frame base reference"
    for t in range(1, len(recon)):
        np.testing.assert_allclose(seen["bl_input"][t - 1][0].numpy(), golden["bl_input"][t], rtol=0, atol=1e-5)
        assert _psnr(seen["bl_pre"][t - 1][0].numpy(), golden["bl_recon_preclamp"][t]) >= 50.0, f"frame {t} base recon"
