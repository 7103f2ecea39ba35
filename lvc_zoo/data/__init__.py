"""Video data: colour conversion, video file I/O and synthetic clips; datasets later."""

from .colour import (
    BT709_FULL,
    BT709_LIMITED,
    ColourSpace,
    from_uint8_planes,
    rgb_to_yuv420,
    rgb_to_yuv444,
    to_uint8_planes,
    yuv420_to_rgb,
    yuv444_to_rgb,
)
from .synthetic import pan_clip
from .video import VideoInfo, iter_video, parse_yuv_name, probe_video, read_video, write_video

__all__ = [
    "pan_clip",
    "ColourSpace",
    "BT709_FULL",
    "BT709_LIMITED",
    "rgb_to_yuv444",
    "yuv444_to_rgb",
    "rgb_to_yuv420",
    "yuv420_to_rgb",
    "to_uint8_planes",
    "from_uint8_planes",
    "VideoInfo",
    "read_video",
    "iter_video",
    "probe_video",
    "write_video",
    "parse_yuv_name",
]
