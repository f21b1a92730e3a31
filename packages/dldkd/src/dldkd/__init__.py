"""DL-DKD: dual learning with dynamic knowledge distillation for partially relevant video retrieval.

Modules:

* :mod:`dldkd.model` - the two-branch student (:func:`build_model`, :class:`DLDKD`), frame-max scores;
* :mod:`dldkd.losses` - the ICCV / DL-DKD++ objective (:class:`DLDKDLoss`) on the core losses, KD schedules;
* :mod:`dldkd.data` - the on-disk feature bundle, datasets and collate functions;
* :mod:`dldkd.evaluate` - vectorised, chunked evaluation (:func:`evaluate_model`, :class:`FrameIndex`);
* :mod:`dldkd.checkpoint` - original ICCV / DL-DKD++ state dicts and ``model.ckpt`` files;
* :mod:`dldkd.config` - the original command-line options;
* :mod:`dldkd.runner` - a run built from the options: data, model, the core Trainer and its hooks;
* :mod:`dldkd.train` / :mod:`dldkd.test` - the entry points ``python -m dldkd.train`` / ``python -m dldkd.test``
  (imports run one way: entry -> runner -> evaluate).
"""

__version__ = "0.1.0"

from .checkpoint import from_original_state_dict, load_checkpoint_file, model_from_state_dict  # noqa: E402
from .losses import DLDKDLoss, kd_coefficient_for_epoch  # noqa: E402
from .model import DLDKD, DLDKDConfig, build_model, frame_max_scores  # noqa: E402

__all__ = [
    "DLDKD",
    "DLDKDConfig",
    "DLDKDLoss",
    "build_model",
    "frame_max_scores",
    "kd_coefficient_for_epoch",
    "from_original_state_dict",
    "load_checkpoint_file",
    "model_from_state_dict",
]
