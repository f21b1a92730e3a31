"""KICLIP: knowledge injection improves distillation (CLIP video recognition, base-to-novel)"""

__version__ = "0.1.0"
