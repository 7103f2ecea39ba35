"""Video data: synthetic clips now; video I/O, colour conversion and datasets later."""

from .synthetic import pan_clip

__all__ = ["pan_clip"]
