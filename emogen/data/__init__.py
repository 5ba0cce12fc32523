"""Data preparation: CREMA-D names, frame-rate conversion, preprocessing, filelists and training datasets."""
