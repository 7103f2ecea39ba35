"""The zoo's codecs: one LightningModule class per paper."""

from .codec import EstimateResult, FrameEstimate, VideoCodec
from .dcvc_dc import DCVCDC, DCVCDCConfig
from .sevc import SEVC, SEVCConfig

__all__ = ["VideoCodec", "EstimateResult", "FrameEstimate", "DCVCDC", "DCVCDCConfig", "SEVC", "SEVCConfig"]
