"""Networks of EmoGen: generator, lip-sync expert, quality and emotion discriminators."""
from .emo_disc import DISCEMO
from .syncnet import SyncNet_color
from .wav2lip import Wav2Lip, Wav2Lip_disc_qual

__all__ = ["Wav2Lip", "Wav2Lip_disc_qual", "SyncNet_color", "DISCEMO"]
