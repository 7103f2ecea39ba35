"""Fuzzing weights directories (#28): no config.json or weights file crashes `lvc_zoo.load`.

A small DCVC-DC is saved once (`save_pretrained`); each derandomised Hypothesis case damages a
copy of its directory (config fields of wrong types or out of range, missing and extra keys,
broken JSON, bad "files" and "quality_files" entries, a config that does not fit the weights,
truncated or crafted safetensors files, with or without their sha256 updated) and loads it
through the public `lvc_zoo.load(name, weights=DIR)`. Every case must, within 10 s of CPU time,
either load a codec holding exactly the directory's weights or raise an `LvcZooError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file

import lvc_zoo
from fuzz_testing import CASE_SECONDS, FUZZ, report
from lvc_zoo.errors import LvcZooError
from lvc_zoo.hub import save_pretrained
from lvc_zoo.models import DCVCDC, DCVCDCConfig

pytestmark = pytest.mark.slow  # the fast selection (pytest -m "not slow") leaves it out

WEIGHTS = "model.safetensors"
OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid weights directory of a small DCVC-DC (fixed seed)."""
    torch.manual_seed(0)
    return save_pretrained(DCVCDC(DCVCDCConfig.small()), tmp_path_factory.mktemp("weights"), "dcvc_dc")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def crafted_safetensors(shape: list[int], nbytes: int) -> bytes:
    """A safetensors file whose header claims one float32 tensor of `shape`, followed by `nbytes` bytes."""
    end = 4 * int(torch.tensor(shape, dtype=torch.float64).prod()) if shape else 4
    header = json.dumps({"intra.enc.0.weight": {"dtype": "F32", "shape": shape, "data_offsets": [0, end]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * nbytes


# ----------------------------------------------------------------------------- one case
def outcome(directory: Path) -> str:
    """Load `directory`: "loaded" (the codec holds exactly the file's weights) or "error" (an LvcZooError)."""
    start = time.process_time()
    try:
        codec = lvc_zoo.load("dcvc_dc", weights=directory)
    except LvcZooError:
        result = "error"
    else:
        stored = load_file(str(directory / WEIGHTS))
        state = codec.state_dict()
        assert stored.keys() == state.keys() and all(torch.equal(state[k], stored[k].to(state[k].dtype)) for k in stored)
        result = "loaded"
    assert time.process_time() - start < CASE_SECONDS
    OUTCOMES[result] += 1
    return result


def load_case(base: Path, meta: dict[str, Any] | None, text: bytes | None = None, weights: bytes | None = None,
              rehash: bool = True) -> str:
    """Write a copy of `base` with config.json `meta` (or raw `text`) and optionally other `weights` bytes
    (their sha256 recorded in meta["files"] when `rehash`), and load it."""
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        if weights is None:
            os.link(base / WEIGHTS, directory / WEIGHTS)
        else:
            (directory / WEIGHTS).write_bytes(weights)
            if rehash and isinstance(meta, dict) and isinstance(meta.get("files"), dict):
                meta["files"][WEIGHTS] = sha256(weights)
        (directory / "config.json").write_bytes(text if text is not None else json.dumps(meta).encode())
        return outcome(directory)


def base_meta(base: Path) -> dict[str, Any]:
    return json.loads((base / "config.json").read_text())


def test_the_fuzzed_directory_loads(base: Path) -> None:
    assert load_case(base, base_meta(base)) == "loaded"


# ----------------------------------------------------------------------------- the category
_VALUES = st.sampled_from([
    -1, 0, 1, 3, 10**7, 2**63, 10**400, 1.5, -0.0, float("nan"), float("inf"), -float("inf"),
    "16", "", None, True, False, [], {}, [16], [16] * 40, [[16]], [-8, 8, 16], {"ch_1x": 16},
])
_FIELDS = list(DCVCDCConfig.limits) + ["unet_channels", "flow_channels", "intra_channels", "align_max_residual", "anchors"]
_TOP_KEYS = ["model", "config", "files", "qualities", "quality_to_q_index", "quality_files", "lvc_zoo_version", "bogus"]
_QUALITY_FILES = st.sampled_from([
    {"2": WEIGHTS}, {"2": "../" + WEIGHTS}, {"2": "/etc/passwd"}, {"x": WEIGHTS}, {"2": [WEIGHTS]}, {"2": None},
    {"2": 5}, {"2": {}}, [], "model", {}, {"2": "missing.safetensors"}, {"0": WEIGHTS, "2": WEIGHTS, "-1": ""},
])
_FILES = st.sampled_from([
    {WEIGHTS: "0" * 64}, {"../" + WEIGHTS: "0" * 64}, {"/" + WEIGHTS: "0" * 64}, {WEIGHTS: 5}, {WEIGHTS: [1]},
    {WEIGHTS: None}, [], "x", {"": "0"}, {"extra.bin": "0" * 64}, {},
])
_RAW_JSON = st.sampled_from([
    b"", b"null", b"[]", b'"config"', b"1e999", b"\xff\xfe\x00", b"[" * 100_000, b"{" * 10_000,
    b'{"model": "dcvc_dc", "config": ' + b"9" * 5000 + b"}", b" " * (2 << 20),
])
_MUTATIONS = st.one_of(
    st.tuples(st.just("field"), st.sampled_from(_FIELDS), _VALUES),
    st.tuples(st.just("drop field"), st.sampled_from(_FIELDS), st.none()),
    st.tuples(st.just("extra field"), st.sampled_from(["bogus", "ch_32x", ""]), _VALUES),
    st.tuples(st.just("top"), st.sampled_from(_TOP_KEYS), _VALUES),
    st.tuples(st.just("drop top"), st.sampled_from(_TOP_KEYS), st.none()),
    st.tuples(st.just("quality_files"), st.just("quality_files"), _QUALITY_FILES),
    st.tuples(st.just("files"), st.just("files"), _FILES),
    st.tuples(st.just("raw json"), st.none(), _RAW_JSON),
    st.tuples(st.just("cut json"), st.none(), st.integers(0, 2000)),
    st.tuples(st.just("other config"), st.sampled_from(["tiny", "sevc model"]), st.none()),
    st.tuples(st.just("cut weights"), st.booleans(), st.integers(0, 3_600_000)),
    st.tuples(st.just("flip weights"), st.booleans(), st.integers(0, 4000)),
    st.tuples(st.just("crafted weights"), st.sampled_from([[100_000, 100_000], [2**40], [], [-1], [3, 3]]), st.integers(0, 64)),
)


def test_damaged_weights_directories(base: Path) -> None:
    """Every mutation loads the directory's weights exactly or raises an LvcZooError."""
    weights = (base / WEIGHTS).read_bytes()
    kinds: Counter[str] = Counter()

    @FUZZ
    @given(mutation=_MUTATIONS)
    def case(mutation: tuple[str, Any, Any]) -> None:
        kind, key, value = mutation
        kinds[kind] += 1
        meta = base_meta(base)
        text = new_weights = None
        rehash = True
        if kind == "field":
            meta["config"][key] = value
        elif kind == "drop field":
            del meta["config"][key]
        elif kind == "extra field":
            meta["config"][key] = value
        elif kind in ("top", "quality_files", "files"):
            meta[key] = value
        elif kind == "drop top":
            meta.pop(key, None)
        elif kind == "raw json":
            text = value
        elif kind == "cut json":
            full = json.dumps(meta).encode()
            text = full[: value % len(full)]
        elif kind == "other config":
            if key == "tiny":  # valid config, other widths: the weights do not fit it
                meta["config"] = json.loads(json.dumps(DCVCDCConfig.tiny().__dict__))
            else:
                meta["model"] = "sevc"
        elif kind == "cut weights":
            new_weights, rehash = weights[: value % len(weights)], key
        elif kind == "flip weights":  # in the JSON header or the first tensors' bytes
            data = bytearray(weights)
            data[value % len(data)] ^= 0xFF
            new_weights, rehash = bytes(data), True
        else:
            new_weights = crafted_safetensors(key, value)
        result = load_case(base, meta, text, new_weights, rehash)
        intact = kind in ("drop top",) and key in ("lvc_zoo_version", "bogus", "quality_files")
        if intact:
            assert result == "loaded"

    case()
    report("bad config.json", sum(kinds.values()), outcomes=dict(OUTCOMES), mutations=dict(kinds))
