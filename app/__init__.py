"""LiveMatte: local, real-time person matting."""

__version__ = "0.1.0"
