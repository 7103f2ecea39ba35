"""The zoo's codecs: one LightningModule class per paper."""

from .codec import EstimateResult, FrameEstimate, VideoCodec
from .dcvc_dc import DCVCDC, DCVCDCConfig, DCVCDCTiny
from .ecvc import ECVC, ECVCConfig
from .sevc import SEVC, SEVCConfig

__all__ = ["VideoCodec", "EstimateResult", "FrameEstimate", "DCVCDC", "DCVCDCConfig", "DCVCDCTiny", "SEVC", "SEVCConfig", "ECVC", "ECVCConfig"]
