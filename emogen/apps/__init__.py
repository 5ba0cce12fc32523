"""Applications over the stages: the quick-start demo and the local web page."""
