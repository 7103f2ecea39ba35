"""Real bitstreams: entropy coding of integer symbols and the lvc_zoo container format."""

from .bitstream import FORMAT_VERSION, MAGIC, CodedFrame, StreamHeader, read_header, read_stream, write_stream
from .coders import Decode, Encode
from .entropy_coder import ChunkReader, ChunkWriter

__all__ = [
    "MAGIC", "FORMAT_VERSION", "StreamHeader", "CodedFrame", "read_header", "read_stream", "write_stream",
    "Encode", "Decode", "ChunkWriter", "ChunkReader",
]
