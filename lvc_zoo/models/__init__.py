"""The zoo's codecs: one LightningModule class per paper."""

from .codec import EstimateResult, FrameEstimate, VideoCodec
from .dcvc_dc import DCVCDC, DCVCDCConfig, DCVCDCTiny
from .dcvc_fm import DCVCFM, DCVCFMConfig
from .ecvc import ECVC, ECVCConfig
from .sevc import SEVC, SEVCConfig

__all__ = [
    "VideoCodec", "EstimateResult", "FrameEstimate", "DCVCDC", "DCVCDCConfig", "DCVCDCTiny", "DCVCFM", "DCVCFMConfig",
    "ECVC", "ECVCConfig", "SEVC", "SEVCConfig",
]
