"""Figures for the reports: rate-distortion curves and bit savings by quality (PNG), visual grids (JPEG).

Rendered with matplotlib's non-interactive Agg backend and written atomically.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib import patches  # noqa: E402
import numpy as np  # noqa: E402

from tfjpegnet import files  # noqa: E402
from tfjpegnet.evaluation import metrics  # noqa: E402


# Visual grids are photographs: stored as JPEG (quality 80, no chroma subsampling), about
# a sixth of the PNG's size; the artefacts they show (JPEG at Q5..Q15) are far coarser.
VISUAL_JPEG = {"quality": 80, "subsampling": 0}


def _save(fig, path, image_format="png"):
    """Write ``fig`` to ``path`` atomically ("png", or "jpeg" with :data:`VISUAL_JPEG`) and close it."""
    options = {"pil_kwargs": VISUAL_JPEG} if image_format == "jpeg" else {}
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, format=image_format, dpi=110, bbox_inches="tight", **options)
    plt.close(fig)


def rd_figure(path, curves, title):
    """Two panels, PSNR-bpp and SSIM-bpp, one line per RD curve.

    Args:
      path: output PNG path.
      curves: list of dicts with "label" (str), "bpp", "psnr", "ssim" (equal-length
        lists, one value per quality, sorted by quality), and optionally "color"
        (matplotlib colour) and "dashed" (bool).
      title: figure title.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, key, label in ((axes[0], "psnr", "RGB PSNR (dB)"), (axes[1], "ssim", "SSIM")):
        for curve in curves:
            axis.plot(curve["bpp"], curve[key], marker="o", markersize=3, label=curve["label"],
                      color=curve.get("color"), linestyle="--" if curve.get("dashed") else "-")
        axis.set_xlabel("bits per pixel")
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    _save(fig, path)


def savings_figure(path, series, title, targets=None):
    """Bit saving against quality: two panels (at equal PSNR, at equal SSIM), one line per model.

    Args:
      path: output PNG path.
      series: list of dicts with "label" (str), "quality" (ints), "saving_psnr" and
        "saving_ssim" (percent, positive = fewer bits; lists as long as "quality").
      title: figure title.
      targets: optional list of (quality_lo, quality_hi, percent at PSNR, percent at SSIM),
        drawn as dotted steps (e.g. the goals a model should reach).
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, key, label in ((axes[0], "saving_psnr", "at equal PSNR"), (axes[1], "saving_ssim", "at equal SSIM")):
        axis.axhline(0.0, color="black", linewidth=0.8)
        for line in series:
            axis.plot(line["quality"], line[key], marker="o", markersize=4, label=line["label"])
        for lo, hi, *goal in targets or []:
            axis.hlines(goal[0 if key == "saving_psnr" else 1], lo, hi, colors="gray", linestyles=":",
                        label="target" if (lo, hi) == tuple(targets[0][:2]) else None)
        axis.set_xlabel("JPEG quality")
        axis.set_title(f"bits saved {label}")
        axis.grid(True, alpha=0.3)
    axes[0].set_ylabel("fewer bits than plain (%)")
    axes[1].legend(fontsize=8, loc="best")
    fig.suptitle(title)
    _save(fig, path)


def detail_crop(rgb, fraction=4):
    """Pick the most detailed square window for a zoomed view.

    Args:
      rgb: uint8 [H, W, 3].
      fraction: the window side is min(H, W) // fraction.

    Returns:
      (top, left, size): the window, on a grid of half-window steps, whose luma has the
      largest variance.
    """
    y = metrics.luma(rgb)
    size = max(8, min(y.shape) // fraction)
    step = max(1, size // 2)
    windows = [(y[t:t + size, l:l + size].var(), t, l)
               for t in range(0, y.shape[0] - size + 1, step)
               for l in range(0, y.shape[1] - size + 1, step)]
    _, top, left = max(windows)
    return top, left, size


def visual_grid(path, panels, crop, title):
    """A row of whole images and, below, the same zoomed crop of each (like the paper's Figs. 3-5).

    Args:
      path: output JPEG path (``.jpg``; see :data:`VISUAL_JPEG`).
      panels: list of (caption, RGB uint8 [H, W, 3]), all the same size.
      crop: (top, left, size) of the zoomed window, from :func:`detail_crop`.
      title: figure title.
    """
    top, left, size = crop
    height, width = panels[0][1].shape[:2]
    fig, axes = plt.subplots(2, len(panels), figsize=(4.0 * len(panels), 4.0 * height / width + 4.4),
                             squeeze=False)
    for column, (caption, image) in enumerate(panels):
        whole, zoom = axes[0, column], axes[1, column]
        whole.imshow(image, interpolation="nearest")
        whole.add_patch(patches.Rectangle((left, top), size, size, fill=False,
                                           edgecolor="red", linewidth=1))
        whole.set_title(caption, fontsize=8)
        zoom.imshow(np.asarray(image)[top:top + size, left:left + size], interpolation="nearest")
        for axis in (whole, zoom):
            axis.set_xticks([])
            axis.set_yticks([])
    fig.suptitle(title)
    _save(fig, path, "jpeg")
