"""Hand-marked positions on the shared media, used by the detector tests and bench/bench_download_free_detectors.py.

Per file (frame 0 of a video, or the still image): y of the mouth centre and y of the bottom of the chin.
"""
MOUTH_CHIN = {"video/face1_30fps.mp4": (255, 300), "video/face2.mp4": (510, 585), "video/face3.mp4": (375, 445),
              "video/face4_30fps.mp4": (325, 375), "video/face5.mp4": (400, 445), "video/face6.mp4": (385, 445),
              "video/face7.mp4": (400, 465), "image/face3.jpg": (385, 450)}
ANNOTATION_SLACK = 15  # pixels: the hand annotations are not more precise than this
