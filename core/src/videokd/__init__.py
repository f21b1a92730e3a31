"""videokd: shared core of five video knowledge-distillation papers.

Sub-packages: ``videokd.clip`` (OpenAI CLIP), ``videokd.losses``, ``videokd.metrics``,
``videokd.engine`` (training loop), ``videokd.data`` (decoding, samplers, transforms, synthetic
datasets) and the modules ``videokd.config`` (YAML + command-line overrides) and
``videokd.testing`` (parity-fixture helpers). Nothing here imports a paper package.
"""

__version__ = "0.1.0"
