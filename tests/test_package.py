"""The top-level package: version, public names, and a light `import lvc_zoo`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import lvc_zoo

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_project_version() -> None:
    declared = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    assert declared is not None and lvc_zoo.__version__ == declared.group(1)


def test_public_names_resolve() -> None:
    for name in lvc_zoo.__all__:
        assert getattr(lvc_zoo, name) is not None, name
    assert lvc_zoo.save_pretrained.__module__ == "lvc_zoo.hub"
    assert lvc_zoo.convert_official.__module__ == "lvc_zoo.convert"


def test_import_does_not_build_the_model_table() -> None:
    code = "import sys, lvc_zoo, lvc_zoo.errors; assert 'lvc_zoo.models' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
