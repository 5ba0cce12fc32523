"""The bottom layer: what every other part uses and nothing of the project it imports (errors, atomic files,
devices, precision, media, checkpoint I/O, the weight-file table and the shared contract)."""
