"""2D-to-3D knowledge distillation for 3D ResNets (3D-ResNets-PyTorch lineage)"""

__version__ = "0.1.0"
