"""`lvc-zoo encode` / `decode` with DCVC-FM (small widths): the q_index quality round trips exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import skimage.data
import torch

import lvc_zoo
from lvc_zoo.cli.main import main
from lvc_zoo.coding.bitstream import read_header
from lvc_zoo.data import VideoInfo, pan_clip, read_video, write_video
from lvc_zoo.models import DCVCFM, DCVCFMConfig

QUALITY = 42


@pytest.mark.slow
def test_encode_decode_round_trip_equals_the_encoder_reconstruction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    weights = lvc_zoo.save_pretrained(DCVCFM(DCVCFMConfig.small()), tmp_path / "weights")
    frames_in = pan_clip(skimage.data.astronaut(), 3, (64, 80), (2, 4))
    source = write_video(tmp_path / "clip.y4m", frames_in, VideoInfo.of(frames_in, fps=25))
    stream = tmp_path / "clip.lvc"

    assert main(["encode", str(source), "-o", str(stream), "--model", "dcvc-fm", "--quality", str(QUALITY), "--weights", str(weights)]) == 0
    header = read_header(stream.read_bytes())
    assert (header.model, header.quality, header.width, header.height, header.frame_count) == ("dcvc_fm", QUALITY, 80, 64, 3)

    decoded = tmp_path / "decoded.y4m"
    assert main(["decode", str(stream), "-o", str(decoded), "--weights", str(weights)]) == 0
    _, err = capsys.readouterr()
    assert err == ""
    codec = lvc_zoo.load("dcvc_fm", weights=weights)
    frames, _ = read_video(source)
    expected = codec.estimate(frames, quality=QUALITY)
    reference = write_video(tmp_path / "reference.y4m", expected.recon, VideoInfo.of(expected.recon, fps=25))
    assert decoded.read_bytes() == reference.read_bytes()


def test_encode_rejects_a_quality_outside_0_to_63(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    weights = lvc_zoo.save_pretrained(DCVCFM(DCVCFMConfig.small()), tmp_path / "weights")
    frames_in = pan_clip(skimage.data.astronaut(), 2, (64, 64), (2, 4))
    source = write_video(tmp_path / "clip.y4m", frames_in, VideoInfo.of(frames_in, fps=25))
    code = main(["encode", str(source), "-o", str(tmp_path / "x.lvc"), "--model", "dcvc_fm", "--quality", "64", "--weights", str(weights)])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "63" in err and "Traceback" not in err
