"""The local web interface: a small Flask app over inference's library code."""
