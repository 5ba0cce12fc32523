"""Inference: options, face sources and boxes, the original's crop/paste geometry, rendering and the pipeline."""
