"""The zoo's codecs: one LightningModule class per paper."""

from .codec import EstimateResult, FrameEstimate, VideoCodec
from .dcvc_dc import DCVCDC, DCVCDCConfig

__all__ = ["VideoCodec", "EstimateResult", "FrameEstimate", "DCVCDC", "DCVCDCConfig"]
