"""The zoo's codecs: one LightningModule class per paper."""

from .codec import EstimateResult, FrameEstimate, VideoCodec
from .dcvc_dc import DCVCDC, DCVCDCConfig, DCVCDCTiny
from .dcvc_fm import DCVCFM, DCVCFMConfig
from .dcvc_lcg import DCVCLCG, DCVCLCGConfig
from .ecvc import ECVC, ECVCConfig
from .lstvc import LSTVC, LSTVCConfig, LSTVCPlus
from .sevc import SEVC, SEVCConfig

__all__ = [
    "VideoCodec", "EstimateResult", "FrameEstimate", "DCVCDC", "DCVCDCConfig", "DCVCDCTiny", "DCVCFM", "DCVCFMConfig",
    "DCVCLCG", "DCVCLCGConfig", "ECVC", "ECVCConfig", "SEVC", "SEVCConfig", "LSTVC", "LSTVCPlus", "LSTVCConfig",
]
