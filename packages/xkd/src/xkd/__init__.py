"""XKD: cross-modal knowledge distillation with domain alignment (audio-visual)"""

__version__ = "0.1.0"
