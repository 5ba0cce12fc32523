"""The preprocessed dataset's file layout, shared by the preprocessing that writes it and the datasets that
read it (a module of names only, so a DataLoader worker imports no media stack for them)."""

MARKER = ".complete.json"  # written last: a clip folder without it is partial
AUDIO_FILE = "audio.wav"  # 16 kHz mono PCM
MEL_FILE = "mel.npy"  # audio.melspectrogram of AUDIO_FILE, float32 (80, steps)
MIN_WINDOWS = 3  # clips with fewer usable 5-frame windows are left out of the filelists
