"""Video, frame and audio data shared by the five packages.

Modules (import what you need; nothing heavy is imported here):

* :mod:`videokd.data.video` - PyAV decoding of mp4/avi/mkv/webm (seek to a window, decode only the
  needed frames, frame timestamps), optional decord / torchcodec backends.
* :mod:`videokd.data.frames` - frame folders (``img_{:05d}.jpg`` ...) and ``n_frames`` files.
* :mod:`videokd.data.audio` - audio tracks through PyAV, wav/flac through soundfile, resampling,
  log-mel spectrograms.
* :mod:`videokd.data.samplers` - frame-index samplers (TSN segments, dense clips, uniform
  multi-clip, loop padding); no decoding needed to test them.
* :mod:`videokd.data.transforms` - video tensor transforms with one set of random parameters
  per clip.
* :mod:`videokd.data.collate` - :func:`~videokd.data.collate.repeated_augmentation_collate`
  (several augmented copies of each video in one batch: PySlowFast's ``multiple_samples_collate``).
* :mod:`videokd.data.robust` - skip-and-count wrapper for corrupt / missing files.
* :mod:`videokd.data.hdf5` - lazy per-worker HDF5 handles; :mod:`videokd.data.features` - the
  PRVR ``feature.bin`` BigFile via ``np.memmap``.
* :mod:`videokd.data.synthetic` - small synthetic datasets in every on-disk format the packages read.
"""
