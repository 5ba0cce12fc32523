"""S3FD: network, post-processing and the detector wrapper."""

from .net_s3fd import S3FD, s3fd

__all__ = ["S3FD", "s3fd"]
