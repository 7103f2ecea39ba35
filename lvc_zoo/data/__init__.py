"""Video data: colour conversion, video file I/O, synthetic clips, training datasets and the DataModule."""

from typing import Any

from .colour import (
    BT709_FULL,
    BT709_LIMITED,
    ColourSpace,
    from_uint8_planes,
    rgb_to_yuv420,
    rgb_to_yuv420_codes,
    rgb_to_yuv444,
    to_uint8_planes,
    yuv420_to_rgb,
    yuv444_to_rgb,
)
from .datasets import BVIDVC, VideoFolder, Vimeo90kSeptuplet
from .synthetic import pan_clip
from .video import VideoInfo, iter_planes, iter_video, parse_yuv_name, probe_video, read_video, write_video

__all__ = [
    "pan_clip",
    "ColourSpace",
    "BT709_FULL",
    "BT709_LIMITED",
    "rgb_to_yuv444",
    "yuv444_to_rgb",
    "rgb_to_yuv420",
    "yuv420_to_rgb",
    "rgb_to_yuv420_codes",
    "to_uint8_planes",
    "from_uint8_planes",
    "VideoInfo",
    "read_video",
    "iter_video",
    "iter_planes",
    "probe_video",
    "write_video",
    "parse_yuv_name",
    "Vimeo90kSeptuplet",
    "VideoFolder",
    "BVIDVC",
    "VideoDataModule",
]


def __getattr__(name: str) -> Any:
    """VideoDataModule on first use: it imports Lightning, which `import lvc_zoo.data` should not pay for."""
    if name == "VideoDataModule":
        from .datamodule import VideoDataModule

        return VideoDataModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
