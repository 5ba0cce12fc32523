"""The library behind the evaluation scripts: one module per metric (fid, lse, image_quality,
emotion_accuracy) and the helpers they share (face_tracks, cpbd, video_lists)."""
