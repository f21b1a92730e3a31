"""Class-dependent content shared by the video and audio families: a class is a (colour, direction)
pair, rendered as a coloured square moving over a textured background, and as a tone whose pitch
and pulse rate encode the class. Also the per-class video set (:func:`make_videos`) that the
classification, frame-folder and audio-visual layouts all draw from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_CLASSES",
    "class_attributes",
    "class_name",
    "class_description",
    "render_clip",
    "render_audio",
    "make_videos",
    "Video",
]

_COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 80, 235),
    "yellow": (240, 220, 40),
    "magenta": (220, 50, 220),
    "cyan": (40, 220, 230),
    "white": (245, 245, 245),
    "orange": (250, 140, 20),
}
_DIRECTIONS = {
    "right": (1, 0),
    "left": (-1, 0),
    "down": (0, 1),
    "up": (0, -1),
    "down right": (1, 1),
    "up left": (-1, -1),
    "down left": (-1, 1),
    "up right": (1, -1),
}
MAX_CLASSES = len(_COLOURS) * len(_DIRECTIONS)


def class_attributes(label: int) -> tuple[str, str]:
    """(colour, direction) of class ``label``: both change with the class, so a model can use either."""
    if not 0 <= label < MAX_CLASSES:
        raise ValueError(f"synthetic classes are limited to {MAX_CLASSES}, got label {label}")
    colours, directions = list(_COLOURS), list(_DIRECTIONS)
    return colours[label % len(colours)], directions[(label + label // len(colours)) % len(directions)]


def class_name(label: int, style: str = "words") -> str:
    """Class name in a dataset's style: ``words`` (Kinetics: "red square moving left"),
    ``camel`` (UCF101: "RedSquareMovingLeft"), ``snake`` (HMDB51: "red_square_moving_left")."""
    colour, direction = class_attributes(label)
    words = [colour, "square", "moving", *direction.split()]
    if style == "camel":
        return "".join(w.capitalize() for w in words)
    if style == "snake":
        return "_".join(words)
    return " ".join(words)


def class_description(label: int) -> str:
    """A KICLIP-style rephrased description "<Name>: <sentence>"."""
    colour, direction = class_attributes(label)
    name = class_name(label).capitalize()
    return (
        f"{name}: In this video, a {colour} square slides steadily {direction} across a textured "
        f"background while the camera stays still"
    )


def render_clip(label: int, *, frames: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A clip of class ``label``: uint8 ``(T, H, W, 3)``.

    A square of the class colour moves in the class direction over a per-video textured background
    (smooth random colour field + noise), starting from a random position, with a random speed.
    """
    colour = np.asarray(_COLOURS[class_attributes(label)[0]], dtype=np.float32)
    dx, dy = _DIRECTIONS[class_attributes(label)[1]]
    # background: low-frequency colour field, different for every video
    small = rng.uniform(40, 160, size=(4, 4, 3)).astype(np.float32)
    yy = np.linspace(0, 3, height, dtype=np.float32)
    xx = np.linspace(0, 3, width, dtype=np.float32)
    y0, x0 = np.floor(yy).astype(int).clip(0, 2), np.floor(xx).astype(int).clip(0, 2)
    fy, fx = (yy - y0)[:, None, None], (xx - x0)[None, :, None]
    bg = (
        small[y0][:, x0] * (1 - fy) * (1 - fx)
        + small[y0 + 1][:, x0] * fy * (1 - fx)
        + small[y0][:, x0 + 1] * (1 - fy) * fx
        + small[y0 + 1][:, x0 + 1] * fy * fx
    )
    side = max(2, min(height, width) // 4)
    speed = rng.uniform(0.6, 1.0) * (min(height, width) - side) / max(frames - 1, 1)
    # start so that the square stays mostly in view while it moves
    span_x, span_y = abs(dx) * speed * (frames - 1), abs(dy) * speed * (frames - 1)
    sx = rng.uniform(0, max(width - side - span_x, 0) + 1e-6) + (span_x if dx < 0 else 0)
    sy = rng.uniform(0, max(height - side - span_y, 0) + 1e-6) + (span_y if dy < 0 else 0)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        img = bg + rng.normal(0, 6, size=bg.shape).astype(np.float32)
        x = int(round(sx + dx * speed * t))
        y = int(round(sy + dy * speed * t))
        x, y = min(max(x, 0), width - side), min(max(y, 0), height - side)
        img[y : y + side, x : x + side] = colour
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def render_audio(label: int, *, seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Class-dependent sound: a tone whose pitch and pulse rate encode the class, plus noise.
    float32 ``(1, N)`` in [-1, 1]."""
    n = int(round(seconds * rate))
    t = np.arange(n, dtype=np.float64) / rate
    pitch = 220.0 * 2 ** ((label % 12) / 6.0) * rng.uniform(0.98, 1.02)
    pulse = 1.0 + (label // 12 + label % 4)
    envelope = 0.5 * (1 + np.sin(2 * np.pi * pulse * t + rng.uniform(0, 2 * np.pi)))
    wave = 0.4 * envelope * np.sin(2 * np.pi * pitch * t) + 0.02 * rng.standard_normal(n)
    return np.clip(wave, -1, 1).astype(np.float32)[None]


def _even(x: int) -> int:
    return max(2, x + (x % 2))


def _frame_size(size: int, aspect: float = 4 / 3) -> tuple[int, int]:
    """(height, width) with short side ``size`` and a 4:3 landscape frame, both even."""
    return _even(size), _even(int(round(size * aspect)))


def _split_of(v: int, m: int) -> str:
    """Split of the v-th of m videos of a class: about 60 % train, 20 % val, 20 % test."""
    n_test = max(1, m // 5) if m >= 3 else 0
    n_val = max(1, m // 5) if m >= 3 else (1 if m == 2 else 0)
    if v < m - n_val - n_test:
        return "train"
    return "val" if v < m - n_test else "test"


@dataclass
class Video:
    """One rendered video of :func:`make_videos`: ``frames`` uint8 ``(T, H, W, 3)``, ``audio`` float
    ``(1, N)`` or None."""

    label: int
    split: str
    index: int  # within its class
    frames: np.ndarray
    audio: np.ndarray | None


def make_videos(
    classes: int, videos_per_class: int, frames: int, size: int, seed: int, *, fps: float, audio_rate: int | None = None
) -> list[Video]:
    """``videos_per_class`` videos of each class (about 60/20/20 % train/val/test per class), with
    ``frames`` minus up to 1/8 frames each, a 4:3 frame of short side ``size``, and class audio
    if ``audio_rate`` is given. Deterministic for ``seed``."""
    if classes < 1 or classes > MAX_CLASSES:
        raise ValueError(f"classes must be in [1, {MAX_CLASSES}], got {classes}")
    if videos_per_class < 1 or frames < 1 or size < 8:
        raise ValueError(
            f"need videos_per_class >= 1, frames >= 1, size >= 8 (got {videos_per_class}, {frames}, {size})"
        )
    rng = np.random.default_rng(seed)
    h, w = _frame_size(size)
    out = []
    for c in range(classes):
        for v in range(videos_per_class):
            # the frame count varies a little per video, as real datasets do
            n = max(1, frames - int(rng.integers(0, max(1, frames // 8) + 1)))
            clip = render_clip(c, frames=n, height=h, width=w, rng=rng)
            wave = render_audio(c, seconds=n / fps, rate=audio_rate, rng=rng) if audio_rate else None
            out.append(Video(c, _split_of(v, videos_per_class), v, clip, wave))
    return out
