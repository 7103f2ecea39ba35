"""The installed lvc_zoo version, in a module that imports nothing of lvc_zoo (any layer may read it)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__"]


def _package_version() -> str:
    """The installed distribution's version; "0.1.0" when run from a source tree not installed."""
    try:
        return metadata.version("lvc_zoo")
    except metadata.PackageNotFoundError:
        return "0.1.0"


__version__ = _package_version()
