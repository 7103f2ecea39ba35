"""DCVC-DC against golden outputs of the official implementation (../shared/reference/dcvc_dc).

Procedure and tolerances from the reference README (`parity_testing`): official-format weights
rebuilt with refgen, converted by `convert_official`, loaded strict; frames from refgen; bits
per frame within 0.5 %, each component within 1 % or 50 bits, clamped and pre-clamp
reconstructions at >= 50 dB PSNR against the golden ones, PSNR vs input within 0.02 dB.
"""

from __future__ import annotations

import numpy as np
import pytest

from parity_testing import check_against_golden, code_golden_clip, converted_model

GOLDENS = ["golden_qLOW", "golden_qHIGH", "golden_ladder_qLOW", "golden_ladder_qHIGH"]

pytestmark = [pytest.mark.parity, pytest.mark.slow]


@pytest.mark.parametrize("golden_name", GOLDENS)
def test_matches_official_golden(golden_name: str, refgen, reference_dir) -> None:
    folder = reference_dir / "dcvc_dc"
    golden = dict(np.load(folder / f"{golden_name}.npz"))
    model = converted_model("dcvc_dc", refgen, folder, ladder="ladder" in golden_name)
    check_against_golden(code_golden_clip(model, refgen, golden), golden)
