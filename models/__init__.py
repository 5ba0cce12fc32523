"""Networks of EmoGen: generator, lip-sync expert, quality and emotion discriminators, and the scoring SyncNet."""

from .emo_disc import DISCEMO
from .syncnet import SyncNet_color
from .syncnet_eval import SyncNetEval
from .wav2lip import Wav2Lip, Wav2Lip_disc_qual

__all__ = ["Wav2Lip", "Wav2Lip_disc_qual", "SyncNet_color", "DISCEMO", "SyncNetEval"]
