"""Exactness across thread counts and versions (the promise in README "Command line").

torch's reductions split work by thread, so the same network gives other last bits with 1 and
3 threads. The header records the encoder's thread count and the decoder codes every frame
with it: a stream encoded with 1 thread decodes exactly in a fresh process that runs with 3.
Other torch or lvc_zoo versions than the encoder's (the header's software id) give an `ExactnessWarning`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import lvc_zoo
from lvc_zoo.coding import read_stream, write_stream
from lvc_zoo.coding.bitstream import software_id
from lvc_zoo.errors import ExactnessWarning

pytestmark = pytest.mark.slow  # the fast selection (pytest -m "not slow") leaves it out

ENCODE = """
import sys, numpy as np, torch, lvc_zoo
torch.set_num_threads(1)
g = torch.Generator().manual_seed(5)
base = torch.rand(1, 3, 72, 88, generator=g)
frames = torch.cat([base[..., i : i + 64, 2 * i : 2 * i + 80] for i in range(3)])
codec = lvc_zoo.load("dcvc_dc_tiny", quality=2)
open(sys.argv[1], "wb").write(codec.compress(frames))
np.save(sys.argv[2], codec.estimate(frames).recon.numpy())
"""

DECODE = """
import sys, numpy as np, torch, lvc_zoo

torch.set_num_threads(3)
codec = lvc_zoo.load("dcvc_dc_tiny")
np.save(sys.argv[2], codec.decompress(open(sys.argv[1], "rb").read()).numpy())
print(torch.get_num_threads())
"""


def run(script: str, *args: Path) -> str:
    result = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_stream_encoded_with_one_thread_decodes_exactly_in_a_fresh_process_with_three(tmp_path: Path) -> None:
    stream, encoded, decoded = tmp_path / "clip.lvc", tmp_path / "encoded.npy", tmp_path / "decoded.npy"
    run(ENCODE, stream, encoded)
    threads_after = run(DECODE, stream, decoded)
    header, _ = read_stream(stream.read_bytes())
    assert header.threads == 1
    assert np.array_equal(np.load(decoded), np.load(encoded))
    assert threads_after.strip() == "3"  # the decoder's own setting is restored


def test_other_versions_than_the_encoders_are_named_in_a_warning() -> None:
    codec = lvc_zoo.load("dcvc_dc_tiny", quality=0)
    frames = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    header, coded = read_stream(codec.compress(frames))
    assert header.software == software_id() == zlib.crc32(f"torch {torch.__version__}; lvc_zoo {lvc_zoo.__version__}".encode())
    older = write_stream(replace(header, software=header.software ^ 1), coded)
    with pytest.warns(ExactnessWarning, match=f"other torch or lvc_zoo versions than these \\(torch {re.escape(torch.__version__)}"):
        codec.decompress(older)
