"""Where edited images sit against plain JPEG at one quality.

Edited whole images are encoded with OpenCV's JPEG (default settings) at one quality and
judged by their mean PSNR, SSIM and bpp, their change against plain JPEG of the originals
at that quality, and the bit saving at equal PSNR and at equal SSIM along plain JPEG's
curve at Q = 1..100 (as in the evaluation report). :func:`measure` does it for Modify-Net
files; :func:`judge` for any edit (the per-image optimum of :mod:`.edit_optimum` too).
The command around it is :mod:`tfjpegnet.cli.operating_point`.
"""

from tfjpegnet.evaluation import evaluate, metrics

ENCODER = "opencv"


def _mean(images, inputs, quality):
    """Means over images (:func:`evaluate.mean_row`) of OpenCV JPEG of ``inputs`` (name -> uint8 [1, H, W, 3])."""
    return evaluate.mean_row([evaluate.measure(images[name][None], inputs[name], ENCODER, quality, False)
                              for name in images])


def reference_curve(images, progress=None):
    """Plain JPEG of the originals at Q = 1..100: list of 100 mean rows (index Q - 1).

    images: dict name -> RGB uint8 [H, W, 3]. progress: optional callable() after each quality.
    """
    curve = []
    for q in range(1, 101):
        curve.append(_mean(images, {name: rgb[None] for name, rgb in images.items()}, q))
        if progress:
            progress()
    return curve


def judge(images, edited, quality, curve, label):
    """Operating point of edited images against plain JPEG's ``curve``.

    Args:
      images: dict name -> RGB uint8 [H, W, 3], the originals.
      edited: dict name -> RGB uint8 [1, H, W, 3], what is encoded at ``quality``.
      curve: from :func:`reference_curve` on the same images. label: names the row.

    Returns:
      dict: the means (psnr, ssim, bpp, ...), "model" (= label), "d_psnr" (dB), "d_bpp"
      (percent) and "saving_psnr", "saving_ssim" (percent; positive = fewer bits than
      plain JPEG at equal quality).
    """
    plain = curve[quality - 1]
    rates = [row["bpp"] for row in curve]
    row = _mean(images, edited, quality)
    row.update(model=label, d_psnr=row["psnr"] - plain["psnr"], d_bpp=100.0 * (row["bpp"] / plain["bpp"] - 1.0),
               saving_psnr=metrics.bit_saving(row["bpp"], row["psnr"], rates, [c["psnr"] for c in curve]),
               saving_ssim=metrics.bit_saving(row["bpp"], row["ssim"], rates, [c["ssim"] for c in curve]))
    return row


def measure(models, images, quality, progress=None):
    """Operating point of each model.

    Args:
      models: list of .keras paths; images: dict name -> RGB uint8 [H, W, 3].
      quality: 1..100. progress: optional callable() after each plain quality and model.

    Returns:
      dict with "quality", "encoder", "plain" (means of psnr, ssim, bpp, ... at ``quality``)
      and "models": one :func:`judge` row per model, labelled by its path.
    """
    curve = reference_curve(images, progress)
    rows = judge_models(models, images, quality, curve, progress)
    return {"quality": quality, "encoder": ENCODER, "plain": curve[quality - 1], "models": rows}


def judge_models(models, images, quality, curve, progress=None):
    """:func:`judge` rows of Modify-Net files (each edits the whole images), labelled by their paths.

    Args:
      models: list of .keras paths; images: dict name -> RGB uint8 [H, W, 3].
      quality: 1..100; curve: from :func:`reference_curve`. progress: optional callable() after each model.
    """
    rows = []
    for path in models:
        net = evaluate.load_model(path)
        edited = {name: evaluate.edit_units(net, "full", rgb) for name, rgb in images.items()}
        rows.append(judge(images, edited, quality, curve, path))
        if progress:
            progress()
    return rows


TABLE_HEADER = ("| model | PSNR (dB) | dPSNR (dB) | SSIM | bpp | d bits | saving @PSNR | saving @SSIM |",
                "|---|---:|---:|---:|---:|---:|---:|---:|")


def table_row(row):
    """One Markdown table line for a :func:`judge` row."""
    return (f"| `{row['model']}` | {row['psnr']:.3f} | {row['d_psnr']:+.3f} | {row['ssim']:.4f} | "
            f"{row['bpp']:.4f} | {row['d_bpp']:+.1f} % | {row['saving_psnr']:+.2f} % | {row['saving_ssim']:+.2f} % |")


def to_markdown(result, title=None, notes=()):
    """The result of :func:`measure` as a Markdown table, one line per entry of ``result["models"]``.

    ``title`` replaces the default heading; ``notes`` are extra paragraphs before the table.
    """
    plain = result["plain"]
    title = title or f"Operating points at Q{result['quality']} (OpenCV JPEG, default settings)"
    lines = [f"# {title}", "",
             f"Plain JPEG: {plain['psnr']:.3f} dB, SSIM {plain['ssim']:.4f}, {plain['bpp']:.4f} bpp. "
             "Bit saving at equal PSNR / SSIM along plain JPEG's curve (Q = 1..100); positive = fewer bits.", ""]
    for note in notes:
        lines += [note, ""]
    lines += [*TABLE_HEADER, *(table_row(row) for row in result["models"])]
    return "\n".join(lines) + "\n"
