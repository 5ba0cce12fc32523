"""S3FD as syncnet_python runs it for LSE-D / LSE-C (weights ``sfd_face.pth``; ``s3fd.pth`` is accepted too)."""

from .detector import ReferenceSFDDetector, reference_weights_path
from .net import SyncnetS3FDNet

__all__ = ["ReferenceSFDDetector", "SyncnetS3FDNet", "reference_weights_path"]
