"""DL-DKD: dual learning with dynamic knowledge distillation for partially relevant video retrieval"""

__version__ = "0.1.0"
