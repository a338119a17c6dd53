"""uirbench: build, train on and score the DA-CLIP ten-degradation benchmark, reproducibly."""

__version__ = "0.1.0"
