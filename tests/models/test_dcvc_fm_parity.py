"""DCVC-FM against golden outputs of the official implementation (../shared/reference/dcvc_fm).

The official RGB route: RGB frames -> BT.709 Y'CbCr 4:4:4 -> DMCI / DMC (q_index 0 or 63,
index map [0, 1, 0, 2, ...]) -> clamped Y'CbCr -> RGB. Tolerances from the reference README
(`parity_testing`), on the plain and the ladder specs: bits per frame within 0.5 %, components
within 1 % or 50 bits, RGB, clamped and pre-clamp Y'CbCr reconstructions >= 50 dB against the golden
ones, PSNR vs the input within 0.02 dB, and nonzero-symbol counts of y and mv_y within 0.1 %.
"""

from __future__ import annotations

import numpy as np
import pytest

from parity_testing import check_against_golden, code_golden_clip, converted_model, psnr_np

GOLDENS = ["golden_qLOW", "golden_qHIGH", "golden_ladder_qLOW", "golden_ladder_qHIGH"]

pytestmark = [pytest.mark.parity, pytest.mark.slow]


@pytest.mark.parametrize("golden_name", GOLDENS)
def test_matches_official_golden(golden_name: str, refgen, reference_dir) -> None:
    folder = reference_dir / "dcvc_fm"
    golden = dict(np.load(folder / f"{golden_name}.npz"))
    model = converted_model("dcvc_fm", refgen, folder, ladder="ladder" in golden_name)
    run = code_golden_clip(model, refgen, golden)
    check_against_golden(run, golden, recon_key="recon_rgb")
    clamped = run.raw.clamp(0, 1).numpy()  # the clamped Y'CbCr picture the buffer holds
    for t in range(len(clamped)):
        assert psnr_np(clamped[t], golden["recon"][t]) >= 50.0, f"frame {t} clamped YCbCr recon"
    for tag in ("y", "mv_y"):
        ours, ref = np.asarray(run.nonzero[tag]), golden[f"nnz_{tag}"]
        assert np.all(np.abs(ours - ref) <= 0.001 * ref), (tag, ours, ref)
