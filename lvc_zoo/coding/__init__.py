"""Real bitstreams: entropy coding of integer symbols and the lvc_zoo container format.

The names below are imported from their submodules on first access, so `import
lvc_zoo.coding.estimate` (what every network imports) needs only torch, not the entropy coder.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bitstream import FORMAT_VERSION, MAGIC, CodedFrame, StreamHeader, read_header, read_stream, write_stream
    from .coders import Decode, Encode
    from .entropy_coder import ChunkReader, ChunkWriter

__all__ = [
    "MAGIC", "FORMAT_VERSION", "StreamHeader", "CodedFrame", "read_header", "read_stream", "write_stream",
    "Encode", "Decode", "ChunkWriter", "ChunkReader",
]

_LAZY_EXPORTS = {
    **dict.fromkeys(
        ("MAGIC", "FORMAT_VERSION", "StreamHeader", "CodedFrame", "read_header", "read_stream", "write_stream"), ".bitstream"
    ),
    **dict.fromkeys(("Encode", "Decode"), ".coders"),
    **dict.fromkeys(("ChunkWriter", "ChunkReader"), ".entropy_coder"),
}
"""Public names by the submodule that defines them."""


def __getattr__(name: str) -> Any:
    if name in _LAZY_EXPORTS:
        return getattr(import_module(_LAZY_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
