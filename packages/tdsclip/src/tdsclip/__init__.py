"""TDS-CLIP: temporal difference side network on a frozen CLIP"""

__version__ = "0.1.0"
