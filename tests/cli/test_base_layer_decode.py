"""`lvc-zoo decode --base-layer-only`: the base-layer video of a two-layer (SEVC) stream."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import skimage.data
import torch

import lvc_zoo
from lvc_zoo.cli.main import main
from lvc_zoo.data import VideoInfo, pan_clip, write_video
from lvc_zoo.models import DCVCDC, SEVC, DCVCDCConfig, SEVCConfig


def run(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def encode(model: str, codec: lvc_zoo.models.VideoCodec, tmp_path: Path) -> tuple[Path, Path]:
    """(weights directory, stream of a 3-frame 88x72 clip coded by `codec` through the CLI)."""
    weights = lvc_zoo.save_pretrained(codec, tmp_path / f"{model}_weights")
    frames = pan_clip(skimage.data.astronaut(), 3, (72, 88), (2, 4))
    source = write_video(tmp_path / "clip.y4m", frames, VideoInfo.of(frames, fps=25))
    stream = tmp_path / f"{model}.lvc"
    assert main([str(a) for a in ["encode", source, "-o", stream, "--model", model, "--quality", 1, "--weights", weights]]) == 0
    return weights, stream


@pytest.mark.slow
def test_base_layer_only_writes_the_quarter_size_video_the_codec_decodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    weights, stream = encode("sevc", SEVC(SEVCConfig.small()), tmp_path)
    capsys.readouterr()
    decoded = tmp_path / "low.y4m"
    code, out, err = run(["decode", stream, "-o", decoded, "--weights", weights, "--base-layer-only"], capsys)
    assert code == 0 and err == "", err
    assert "decoded 3 frames of 22x18" in out  # ceil(88 / 4) x ceil(72 / 4)

    codec = lvc_zoo.load("sevc", weights=weights)
    low = codec.decompress(stream.read_bytes(), base_layer_only=True)
    reference = write_video(tmp_path / "reference.y4m", low, VideoInfo.of(low, fps=25))
    assert decoded.read_bytes() == reference.read_bytes()


def test_base_layer_only_is_refused_for_single_layer_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    weights, stream = encode("dcvc_dc", DCVCDC(DCVCDCConfig.small()), tmp_path)
    capsys.readouterr()
    code, _, err = run(["decode", stream, "-o", tmp_path / "low.y4m", "--weights", weights, "--base-layer-only"], capsys)
    assert code == 2 and "Traceback" not in err
    assert re.search(r"--base-layer-only needs a two-layer model such as sevc; .* dcvc_dc, which has one layer", err), err
    assert not (tmp_path / "low.y4m").exists()
