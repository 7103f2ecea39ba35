"""`lvc_zoo.runtime.keep_freed_memory`: freed feature maps stay with the process for reuse (glibc only).

Each case runs in a fresh interpreter, since the allocator settings are process-wide and
applied once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"),
    reason="the allocator settings apply to glibc's malloc only",
)

PROBE = """
import json, sys
import torch
import lvc_zoo
from lvc_zoo.runtime import keep_freed_memory

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "code":  # the coding loop applies the settings itself
    codec = lvc_zoo.load("dcvc_dc_tiny")
    codec.estimate(torch.rand(2, 3, 64, 64), quality=3)
    applied = keep_freed_memory()  # already applied: False
else:
    applied = keep_freed_memory()
before = rss_mib()
block = torch.ones(200 * 2**20 // 4)  # 200 MiB, every page touched
del block
print(json.dumps({"applied": applied, "kept_mib": rss_mib() - before}))
"""


def probe(mode: str, keep: str | None) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "LVC_ZOO_KEEP_MEMORY"}
    if keep is not None:
        env["LVC_ZOO_KEEP_MEMORY"] = keep
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_freed_block_stays_mapped_once_the_settings_are_applied() -> None:
    result = probe("direct", None)
    assert result["applied"] is True
    assert result["kept_mib"] > 150  # the 200 MiB block went back to the heap, not to the system


def test_the_environment_switch_leaves_the_allocator_alone() -> None:
    result = probe("direct", "0")
    assert result["applied"] is False
    assert result["kept_mib"] < 50  # glibc's default: a block this large is unmapped when freed


def test_the_coding_loop_applies_them_once() -> None:
    result = probe("code", None)
    assert result["applied"] is False  # a second call does nothing
    assert result["kept_mib"] > 150
