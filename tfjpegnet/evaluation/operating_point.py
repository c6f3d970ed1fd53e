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

import os

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
    curve, opencv_curve = _curves(images, progress, encoder)
    return _at_quality(models, images, quality, curve, opencv_curve, progress, encoder)


def _curves(images, progress, encoder):
    """(``encoder``'s reference curve, OpenCV's for another encoder or None) of :func:`reference_curve`."""
    curve = reference_curve(images, progress, encoder)
    return curve, None if encoder == ENCODER else reference_curve(images, progress, ENCODER)


def _at_quality(models, images, quality, curve, opencv_curve, progress, encoder):
    """:func:`measure`'s result at ``quality`` from curves already measured."""
    rows = judge_models(models, images, quality, curve, progress, encoder, opencv_curve)
    result = {"quality": quality, "encoder": encoder, "plain": curve[quality - 1], "models": rows}
    if opencv_curve is not None:
        result["plain_vs_opencv"] = dict(zip(("saving_psnr", "saving_ssim"), _savings(curve[quality - 1], opencv_curve)))
    return result


def measure_qualities(models, images, qualities, progress=None, encoder=ENCODER):
    """:func:`measure` at several qualities with one reference curve per encoder, and BD-rates.

    For a net for every quality (each quality is also what it edits for) or single-quality
    nets judged away from their quality. Returns dict with "encoder", "qualities", "by_quality"
    (one :func:`measure`-like dict per quality) and "bd_rate": per model {"psnr", "ssim"},
    percent (negative = fewer bits), of its points at ``qualities`` against plain JPEG of
    ``encoder`` at the same qualities (NaN with fewer than 2 qualities), and with another
    encoder than OpenCV's also "bd_rate_vs_opencv" against plain OpenCV at the same qualities.
    """
    curve, opencv_curve = _curves(images, progress, encoder)
    by_quality = [_at_quality(models, images, q, curve, opencv_curve, progress, encoder) for q in qualities]

    def bd(reference, points, key):
        return metrics.bd_rate([reference[q - 1]["bpp"] for q in qualities], [reference[q - 1][key] for q in qualities],
                               [p["bpp"] for p in points], [p[key] for p in points])

    out = {"encoder": encoder, "qualities": list(qualities), "by_quality": by_quality, "bd_rate": {}}
    for index, path in enumerate(models):
        points = [result["models"][index] for result in by_quality]
        out["bd_rate"][path] = {key: bd(curve, points, key) for key in ("psnr", "ssim")}
        if opencv_curve is not None:
            out.setdefault("bd_rate_vs_opencv", {})[path] = {key: bd(opencv_curve, points, key)
                                                            for key in ("psnr", "ssim")}
    return out


def provenance_lines(result):
    """Markdown lines saying, per model, whether the judged images were in its chain's training data
    (``result["seen_in_training"]``, from :func:`tfjpegnet.provenance.seen_in_training`); [] if
    the result has none."""
    from tfjpegnet import provenance

    seen = result.get("seen_in_training") or {}
    count = len(result.get("images", ()))
    return [f"- `{path}`: {provenance.describe(record, count)}" for path, record in seen.items()] + ([""] if seen else [])


def qualities_to_markdown(result):
    """:func:`measure_qualities`' result as Markdown: a summary per model and quality, the
    BD-rates, then each quality's :func:`to_markdown` table."""
    encoder = result["encoder"]
    vs = "bd_rate_vs_opencv" in result
    lines = [f"# Operating points at Q {', '.join(map(str, result['qualities']))} ({encoder})", "",
             f"Each model edits for the quality it is judged at (a net for every quality) or for its own. "
             f"Saving = fewer bits at equal PSNR / SSIM along plain {encoder}'s own curve (Q = 1..100); dPSNR "
             f"against plain {encoder} at the same quality setting.", "", *provenance_lines(result),
             "| model | Q | dPSNR (dB) | saving @PSNR | saving @SSIM |" + (" vs OpenCV @PSNR | vs OpenCV @SSIM |" if vs else ""),
             "|---|---:|---:|---:|---:|" + ("---:|---:|" if vs else "")]
    for index, path in enumerate(result["bd_rate"]):
        for by in result["by_quality"]:
            row = by["models"][index]
            line = (f"| `{path}` | {by['quality']} | {row['d_psnr']:+.3f} | {row['saving_psnr']:+.2f} % | "
                    f"{row['saving_ssim']:+.2f} % |")
            if vs:
                line += f" {row['saving_psnr_vs_opencv']:+.2f} % | {row['saving_ssim_vs_opencv']:+.2f} % |"
            lines.append(line)
    lines += ["", f"BD-rate over Q {result['qualities'][0]}..{result['qualities'][-1]} (the qualities above) "
              f"against plain {encoder} at the same qualities (negative = fewer bits):", "",
              "| model | BD-rate (PSNR) | BD-rate (SSIM) |" + (" vs OpenCV (PSNR) | vs OpenCV (SSIM) |" if vs else ""),
              "|---|---:|---:|" + ("---:|---:|" if vs else "")]
    for path, bd in result["bd_rate"].items():
        line = f"| `{path}` | {bd['psnr']:+.2f} % | {bd['ssim']:+.2f} % |"
        if vs:
            other = result["bd_rate_vs_opencv"][path]
            line += f" {other['psnr']:+.2f} % | {other['ssim']:+.2f} % |"
        lines.append(line)
    lines.append("")
    for by in result["by_quality"]:
        lines.append(to_markdown(by).replace("# Operating points", "## Operating points"))
    return "\n".join(lines)


def write_figures(result, out_dir):
    """The figures of a :func:`measure_qualities` result: ``rd.png`` (PSNR and SSIM against bpp,
    plain encoder and each model at the measured qualities) and ``savings.png`` (each model's
    bit saving at equal PSNR and SSIM against quality). Returns the two paths."""
    from tfjpegnet.evaluation import figures

    encoder, qualities = result["encoder"], result["qualities"]
    plain = [by["plain"] for by in result["by_quality"]]
    curves = [{"label": f"plain {encoder}", "dashed": True, "color": "black",
               **{key: [p[key] for p in plain] for key in ("bpp", "psnr", "ssim")}}]
    series = []
    for index, path in enumerate(result["bd_rate"]):
        rows = [by["models"][index] for by in result["by_quality"]]
        curves.append({"label": path, **{key: [r[key] for r in rows] for key in ("bpp", "psnr", "ssim")}})
        series.append({"label": path, "quality": qualities,
                       **{key: [r[key] for r in rows] for key in ("saving_psnr", "saving_ssim")}})
    rd, savings = os.path.join(out_dir, "rd.png"), os.path.join(out_dir, "savings.png")
    figures.rd_figure(rd, curves, f"{encoder}, Q {qualities[0]}..{qualities[-1]}")
    figures.savings_figure(savings, series, f"pre-edit on top of {encoder}: bits saved along its own curve")
    return rd, savings


def judge_models(models, images, quality, curve, progress=None, encoder=ENCODER, opencv_curve=None):
    """:func:`judge` rows of Modify-Net files (each edits the whole images), labelled by their paths.

    Args:
      models: list of .keras paths; images: dict name -> RGB uint8 [H, W, 3].
      quality: 1..100 (also what a quality-conditioned net edits for); curve: from :func:`reference_curve`.
      progress: optional callable() after each model.
    """
    rows = []
    for path in models:
        net = evaluate.load_model(path)
        edited = {name: evaluate.edit_units(net, "full", rgb, quality) for name, rgb in images.items()}
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
    lines += provenance_lines(result)
    for note in notes:
        lines += [note, ""]
    header, rule = TABLE_HEADER
    if any("saving_psnr_vs_opencv" in row for row in result["models"]):
        header, rule = header + VS_OPENCV_HEADER[0], rule + VS_OPENCV_HEADER[1]
    lines += [header, rule, *(table_row(row) for row in result["models"])]
    return "\n".join(lines) + "\n"
