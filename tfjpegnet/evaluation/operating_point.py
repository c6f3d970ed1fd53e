"""Where edited images sit against plain JPEG at one quality.

Edited whole images are encoded with one real encoder (OpenCV's default settings unless
another is named: mozjpeg, jpegli, ...) at one quality and judged by their mean PSNR, SSIM
and bpp, their change against that encoder's plain JPEG of the originals at that quality,
and the bit saving at equal PSNR and at equal SSIM along that encoder's own curve at
Q = 1..100 (the pre-edit's gain on top of the encoder). For another encoder than OpenCV's
default each row also gives the saving of the combination against OpenCV's default curve,
which is what a user gets against the usual JPEG. :func:`measure` does it for Modify-Net
files; :func:`judge` for any edit (the per-image optimum of :mod:`.edit_optimum` too).
The command around it is :mod:`tfjpegnet.cli.operating_point`.
"""

from tfjpegnet.evaluation import evaluate, metrics

ENCODER = "opencv"


def _mean(images, inputs, quality, encoder=ENCODER):
    """Means over images (:func:`evaluate.mean_row`) of ``encoder``'s JPEG of ``inputs`` (name -> uint8 [1, H, W, 3])."""
    return evaluate.mean_row([evaluate.measure(images[name][None], inputs[name], encoder, quality, False)
                              for name in images])


def reference_curve(images, progress=None, encoder=ENCODER):
    """Plain JPEG of the originals by ``encoder`` at Q = 1..100: list of 100 mean rows (index Q - 1).

    images: dict name -> RGB uint8 [H, W, 3]. progress: optional callable() after each quality.
    """
    curve = []
    for q in range(1, 101):
        curve.append(_mean(images, {name: rgb[None] for name, rgb in images.items()}, q, encoder))
        if progress:
            progress()
    return curve


def _savings(row, curve):
    """(saving at equal PSNR, at equal SSIM) in percent of ``row`` along ``curve``."""
    rates = [c["bpp"] for c in curve]
    return (metrics.bit_saving(row["bpp"], row["psnr"], rates, [c["psnr"] for c in curve]),
            metrics.bit_saving(row["bpp"], row["ssim"], rates, [c["ssim"] for c in curve]))


def judge(images, edited, quality, curve, label, encoder=ENCODER, opencv_curve=None):
    """Operating point of edited images against plain JPEG's ``curve`` of the same ``encoder``.

    Args:
      images: dict name -> RGB uint8 [H, W, 3], the originals.
      edited: dict name -> RGB uint8 [1, H, W, 3], what is encoded at ``quality``.
      curve: from :func:`reference_curve` on the same images and encoder. label: names the row.
      encoder: a name of :data:`tfjpegnet.jpeg.encoders.ENCODERS`.
      opencv_curve: OpenCV's default curve of the same images, for the savings against it.

    Returns:
      dict: the means (psnr, ssim, bpp, ...), "model" (= label), "d_psnr" (dB), "d_bpp"
      (percent) and "saving_psnr", "saving_ssim" (percent; positive = fewer bits than
      plain JPEG of the same encoder at equal quality); with ``opencv_curve`` also
      "saving_psnr_vs_opencv", "saving_ssim_vs_opencv".
    """
    plain = curve[quality - 1]
    row = _mean(images, edited, quality, encoder)
    row.update(model=label, d_psnr=row["psnr"] - plain["psnr"], d_bpp=100.0 * (row["bpp"] / plain["bpp"] - 1.0))
    row["saving_psnr"], row["saving_ssim"] = _savings(row, curve)
    if opencv_curve is not None:
        row["saving_psnr_vs_opencv"], row["saving_ssim_vs_opencv"] = _savings(row, opencv_curve)
    return row


def measure(models, images, quality, progress=None, encoder=ENCODER):
    """Operating point of each model on ``encoder``.

    Args:
      models: list of .keras paths; images: dict name -> RGB uint8 [H, W, 3].
      quality: 1..100. progress: optional callable() after each plain quality and model.
      encoder: a name of :data:`tfjpegnet.jpeg.encoders.ENCODERS`.

    Returns:
      dict with "quality", "encoder", "plain" (means of psnr, ssim, bpp, ... at ``quality``),
      "plain_vs_opencv" (for another encoder: plain's own savings against OpenCV's default)
      and "models": one :func:`judge` row per model, labelled by its path.
    """
    curve = reference_curve(images, progress, encoder)
    opencv_curve = None if encoder == ENCODER else reference_curve(images, progress, ENCODER)
    rows = judge_models(models, images, quality, curve, progress, encoder, opencv_curve)
    result = {"quality": quality, "encoder": encoder, "plain": curve[quality - 1], "models": rows}
    if opencv_curve is not None:
        result["plain_vs_opencv"] = dict(zip(("saving_psnr", "saving_ssim"), _savings(curve[quality - 1], opencv_curve)))
    return result


def judge_models(models, images, quality, curve, progress=None, encoder=ENCODER, opencv_curve=None):
    """:func:`judge` rows of Modify-Net files (each edits the whole images), labelled by their paths.

    Args:
      models: list of .keras paths; images: dict name -> RGB uint8 [H, W, 3].
      quality: 1..100; curve: from :func:`reference_curve`. progress: optional callable() after each model.
    """
    rows = []
    for path in models:
        net = evaluate.load_model(path)
        edited = {name: evaluate.edit_units(net, "full", rgb) for name, rgb in images.items()}
        rows.append(judge(images, edited, quality, curve, path, encoder, opencv_curve))
        if progress:
            progress()
    return rows


TABLE_HEADER = ("| model | PSNR (dB) | dPSNR (dB) | SSIM | bpp | d bits | saving @PSNR | saving @SSIM |",
                "|---|---:|---:|---:|---:|---:|---:|---:|")


VS_OPENCV_HEADER = (" saving vs OpenCV @PSNR | saving vs OpenCV @SSIM |", "---:|---:|")


def table_row(row):
    """One Markdown table line for a :func:`judge` row (two more cells if it has savings vs OpenCV)."""
    line = (f"| `{row['model']}` | {row['psnr']:.3f} | {row['d_psnr']:+.3f} | {row['ssim']:.4f} | "
            f"{row['bpp']:.4f} | {row['d_bpp']:+.1f} % | {row['saving_psnr']:+.2f} % | {row['saving_ssim']:+.2f} % |")
    if "saving_psnr_vs_opencv" in row:
        line += f" {row['saving_psnr_vs_opencv']:+.2f} % | {row['saving_ssim_vs_opencv']:+.2f} % |"
    return line


def to_markdown(result, title=None, notes=()):
    """The result of :func:`measure` as a Markdown table, one line per entry of ``result["models"]``.

    ``title`` replaces the default heading; ``notes`` are extra paragraphs before the table.
    """
    plain = result["plain"]
    encoder = result.get("encoder", ENCODER)
    name = "OpenCV JPEG, default settings" if encoder == ENCODER else encoder
    title = title or f"Operating points at Q{result['quality']} ({name})"
    lines = [f"# {title}", "",
             f"Plain {encoder}: {plain['psnr']:.3f} dB, SSIM {plain['ssim']:.4f}, {plain['bpp']:.4f} bpp. "
             f"Bit saving at equal PSNR / SSIM along plain {encoder}'s own curve (Q = 1..100): the pre-edit's "
             "gain on top of the encoder; positive = fewer bits.", ""]
    if "plain_vs_opencv" in result:
        vs = result["plain_vs_opencv"]
        lines += [f"Plain {encoder} alone against OpenCV's default: {vs['saving_psnr']:+.2f} % at equal PSNR, "
                  f"{vs['saving_ssim']:+.2f} % at equal SSIM. The last two columns: the pre-edit with {encoder} "
                  "against OpenCV's default (what a user gets).", ""]
    for note in notes:
        lines += [note, ""]
    header, rule = TABLE_HEADER
    if any("saving_psnr_vs_opencv" in row for row in result["models"]):
        header, rule = header + VS_OPENCV_HEADER[0], rule + VS_OPENCV_HEADER[1]
    lines += [header, rule, *(table_row(row) for row in result["models"])]
    return "\n".join(lines) + "\n"
