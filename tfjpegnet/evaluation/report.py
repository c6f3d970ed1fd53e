"""report.md from the evaluation results, with the paper's published numbers beside ours.

The paper's absolute Table 1 numbers (e.g. plain JPEG at Q15: 31.75 dB, SSIM 0.628) follow
from none of the standard protocols tried (OpenCV JPEG of the whole kodim22..24 at Q15 gives
28.28 dB, SSIM 0.796), so its Table 1 is compared through differences to plain JPEG at the
same quality; its Table 2 (JPEG-Net fidelity) is absolute. ``render`` works on
the results dict of :func:`tfjpegnet.evaluation.evaluate.evaluate` or on metrics.json loaded
back (where NaN and infinities are null).
"""

import math
import re

from tfjpegnet.jpeg.encoders import DEFAULT as DEFAULT_ENCODER

# Nagasaki et al. 2020, Tables 1 and 2 (Kodak kodim22..24, 64x64 test patches).
PAPER = {
    "source": "Nagasaki et al. 2020, Tables 1-2 (288 Kodak 64x64 test patches; absolute protocol unknown)",
    "table1": {
        "5": {"jpeg": {"psnr": 26.8417, "ssim": 0.4380},
              "stages": [{"psnr": 23.4266, "ssim": 0.4272}, {"psnr": 25.4661, "ssim": 0.4498},
                         {"psnr": 25.7309, "ssim": 0.4545}]},
        "15": {"jpeg": {"psnr": 31.7482, "ssim": 0.6280},
               "stages": [{"psnr": 25.4329, "ssim": 0.5439}, {"psnr": 30.0170, "ssim": 0.6197},
                          {"psnr": 29.7987, "ssim": 0.6148}]},
    },
    "table2": {"5": [30.249, 29.934, 29.9577], "15": [35.8391, 35.3654, 35.3914]},
}
PLAIN = "jpeg"  # the model name of "no pre-edit" in the results


def _num(value, digits=2, signed=False):
    """Format a number for a table; "n/a" for None, NaN or infinity."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _pct(value):
    """Format a signed percentage with one decimal; "n/a" if missing."""
    text = _num(value, 1, True)
    return text if text == "n/a" else text + " %"


def _table(header, rows):
    """A Markdown table from a header list and rows of cell strings."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def paper_stage(quality, model):
    """The paper's Table 1 entry for ``model`` ("stageK", K = 1..3) at ``quality`` (5 or 15).

    Returns:
      dict with "psnr", "ssim" (absolute) and "d_psnr", "d_ssim" (minus the paper's
      plain JPEG), or None if the paper has no such entry.
    """
    match = re.fullmatch(r"stage(\d+)", model)
    table = PAPER["table1"].get(str(quality))
    if not match or not table or not 1 <= int(match.group(1)) <= len(table["stages"]):
        return None
    entry = table["stages"][int(match.group(1)) - 1]
    return {**entry, "d_psnr": entry["psnr"] - table["jpeg"]["psnr"], "d_ssim": entry["ssim"] - table["jpeg"]["ssim"]}


def _paper_table2(quality, model):
    """The paper's Table 2 PSNR for ``model`` ("stageK") at ``quality``, or None."""
    match = re.fullmatch(r"stage(\d+)", model)
    values = PAPER["table2"].get(str(quality))
    if not match or not values or not 1 <= int(match.group(1)) <= len(values):
        return None
    return values[int(match.group(1)) - 1]


def _bd(results, protocol, encoder, model, key):
    """The pre-edit BD-rate of ``model`` on ``encoder``, or None if the model was not swept."""
    return results["bd_rate"][protocol][encoder].get(model, {}).get(key)


def headline(results, protocol="full"):
    """Markdown lines: bits at equal quality and BD-rate of each model (OpenCV default encoder)."""
    q = results["quality"]
    rows = []
    for model in results["models"]:
        saving = results["bit_saving"][protocol][DEFAULT_ENCODER][model]
        diff = results["table1"][protocol][model]["mean"]["diff"]
        rows.append([model, _pct(saving["at_equal_psnr"]), _pct(saving["at_equal_ssim"]),
                     _pct(_bd(results, protocol, DEFAULT_ENCODER, model, "psnr")),
                     _pct(_bd(results, protocol, DEFAULT_ENCODER, model, "ssim")),
                     f"{_num(saving['psnr'])} ({_num(diff['psnr'], 2, True)})",
                     f"{_num(saving['ssim'], 4)} ({_num(diff['ssim'], 4, True)})",
                     f"{_num(saving['bpp'], 3)} ({_pct(diff['bits'])})"])
    return _table(["model", "bit saving at equal PSNR", "bit saving at equal SSIM", "BD-rate (PSNR)",
                   "BD-rate (SSIM)", f"PSNR at Q{q} (diff)", f"SSIM at Q{q} (diff)", f"bpp at Q{q} (bits diff)"], rows)


def table1_lines(results, protocol):
    """Markdown lines: the Table 1 analogue (means) for one protocol, paper differences beside ours."""
    q = results["quality"]
    table = results["table1"][protocol]
    paper_plain = PAPER["table1"].get(str(q), {}).get("jpeg")
    rows = []
    for model in [PLAIN, *results["models"]]:
        row = table[model]["mean"]
        diff = row["diff"]
        paper = paper_stage(q, model)
        if model == PLAIN:
            paper_cells = [f"({_num(paper_plain['psnr'])} abs.)", f"({_num(paper_plain['ssim'], 4)} abs.)"] \
                if paper_plain else ["", ""]
            diff_cells = ["", "", ""]
        else:
            paper_cells = [_num(paper["d_psnr"], 2, True), _num(paper["d_ssim"], 4, True)] if paper else ["n/a", "n/a"]
            diff_cells = [_num(diff["psnr"], 2, True), _num(diff["ssim"], 4, True), _pct(diff["bits"])]
        rows.append([f"plain JPEG Q{q}" if model == PLAIN else f"{model} + JPEG",
                     _num(row["psnr"]), _num(row["psnr_y"]), _num(row["ssim"], 4), _num(row["ms_ssim"], 4),
                     _num(row["bpp"], 3), *diff_cells, *paper_cells])
    return _table(["", "PSNR (dB)", "Y-PSNR (dB)", "SSIM", "MS-SSIM", "bpp", "diff PSNR", "diff SSIM", "diff bits",
                   "paper diff PSNR", "paper diff SSIM"], rows)


def per_image_lines(results, protocol):
    """Markdown lines: per-image rows of the Table 1 analogue for one protocol."""
    table = results["table1"][protocol]
    rows = []
    for name in results["images"]:
        for model in [PLAIN, *results["models"]]:
            row = table[model]["images"][name]
            diff = row["diff"]
            rows.append([name, "plain JPEG" if model == PLAIN else model, _num(row["psnr"]), _num(row["psnr_y"]),
                         _num(row["ssim"], 4), _num(row["ms_ssim"], 4), _num(row["bpp"], 3),
                         "" if model == PLAIN else _num(diff["psnr"], 2, True),
                         "" if model == PLAIN else _num(diff["ssim"], 4, True),
                         "" if model == PLAIN else _pct(diff["bits"])])
    return _table(["image", "", "PSNR", "Y-PSNR", "SSIM", "MS-SSIM", "bpp", "diff PSNR", "diff SSIM", "diff bits"],
                  rows)


def table2_lines(results):
    """Markdown lines: the Table 2 analogue (JPEG-Net fidelity per stage), or a note if not applicable."""
    if not results["table2"]:
        return ["No stage has a `jpeg_net.keras` (e.g. the analytic proxy was used), so there is no JPEG-Net to "
                "measure."]
    q = results["quality"]
    rows = [[model, _num(value["original"]), _num(_paper_table2(q, model)), _num(value["edited"])]
            for model, value in results["table2"].items()]
    return _table(["stage", "ours: original blocks (dB)", "paper: original blocks (dB)",
                   "ours: Modify-Net-edited blocks (dB)"], rows)


def rd_lines(results, protocol):
    """Markdown lines: the RD points (OpenCV default encoder) of plain JPEG and each swept model."""
    points = results["points"][protocol][DEFAULT_ENCODER]
    models = [PLAIN, *results["sweep_models"]]
    header = ["Q"] + [f"{'plain' if m == PLAIN else m} {k}" for m in models for k in ("bpp", "PSNR", "SSIM")]
    rows = []
    for q in results["qualities"]:
        cells = [str(q)]
        for model in models:
            mean = points[model][str(q)]["mean"]
            cells += [_num(mean["bpp"], 3), _num(mean["psnr"]), _num(mean["ssim"], 4)]
        rows.append(cells)
    return _table(header, rows)


def encoder_lines(results, protocol):
    """Markdown lines: each encoder's gain vs OpenCV default and the pre-edit's gain on top of it, apart."""
    header = ["encoder", "encoder vs OpenCV default: BD-rate (PSNR)", "(SSIM)"]
    for model in results["sweep_models"]:
        header += [f"{model} pre-edit vs same encoder: BD-rate (PSNR)", "(SSIM)"]
    rows = []
    for encoder in results["encoders"]:
        gain = results["encoder_bd_rate"][protocol][encoder]
        cells = [encoder, _pct(gain["psnr"]), _pct(gain["ssim"])]
        for model in results["sweep_models"]:
            cells += [_pct(_bd(results, protocol, encoder, model, k)) for k in ("psnr", "ssim")]
        rows.append(cells)
    return _table(header, rows)


def saving_lines(results, protocol):
    """Markdown lines: bit saving at equal PSNR / SSIM of each model, per encoder: against that
    encoder's own curve (the pre-edit's gain) and against OpenCV default (what a user gets)."""
    rows = []
    for encoder, by_model in results["bit_saving"][protocol].items():
        for model, s in by_model.items():
            versus = [_pct(s[k]) if k in s else "-" for k in ("at_equal_psnr_vs_opencv", "at_equal_ssim_vs_opencv")]
            rows.append([encoder, model, _pct(s["at_equal_psnr"]), _pct(s["at_equal_ssim"]), *versus,
                         f"{_num(s['psnr'])} / {_num(s['plain_psnr'])}",
                         f"{_num(s['ssim'], 4)} / {_num(s['plain_ssim'], 4)}",
                         f"{_num(s['bpp'], 3)} / {_num(s['plain_bpp'], 3)}"])
    q = results["quality"]
    return _table(["encoder", "model", "saving at equal PSNR vs the same encoder", "(SSIM)",
                   "saving at equal PSNR vs OpenCV default", "(SSIM)",
                   f"PSNR at Q{q}: model / plain", f"SSIM at Q{q}: model / plain", f"bpp at Q{q}: model / plain"], rows)


def render(results, figure_names):
    """The whole report.md as a string.

    Args:
      results: from evaluate.evaluate (with "source" added) or metrics.json loaded back.
      figure_names: dict "rd", "encoders" (protocol -> PNG name), "visual" (image -> JPEG name).
    """
    q = results["quality"]
    source = results.get("source", {})
    curve = results["plain_curve_qualities"]
    images = ", ".join(f"{name} ({v['width']}x{v['height']}, {v['patches']} patches)"
                       for name, v in results["images"].items())
    lines = [f"# Evaluation: {source.get('name', 'model')} at JPEG quality {q}", "",
             f"Generated by `tfjpegnet evaluate` from {source.get('kind', 'model')} `{source.get('path', '?')}`; "
             "every number is from a real JPEG encode and a standard OpenCV decode. Do not edit by hand.", "",
             f"- Models: {', '.join(results['models'])} (RD sweep: {', '.join(results['sweep_models'])})",
             f"- Test images: {images}",
             f"- RD sweep qualities: {', '.join(map(str, results['qualities']))}; bit saving against plain JPEG "
             f"with the same encoder at {len(curve)} qualities from Q{curve[0]} to Q{curve[-1]}, interpolated in "
             "log bpp",
             "- Protocols:"]
    lines += [f"  - `{name}`: {text}" for name, text in results["protocols"].items()]
    lines += ["- Encoders:"] + [f"  - `{name}`: {text}" for name, text in results["encoders"].items()]
    lines += ["", "Bit saving = 1 - bpp_model / bpp_plain(quality_model): positive means fewer bits than plain JPEG "
              "for the same PSNR (or SSIM). BD-rate (Bjontegaard, PCHIP, over the overlapping quality range): "
              "negative means fewer bits. At a fixed quality setting plain JPEG already rounds every DCT "
              "coefficient to its nearest reconstruction level, and the DCT is orthonormal, so no pre-edit can "
              "lower the luma MSE of the decoded image at that setting (only chroma subsampling and 8-bit "
              "clipping leave a little room); what a pre-edit can win is rate, so bits at equal quality are the "
              "headline. The same-quality tables are for comparison with the paper, whose absolute numbers follow "
              "from no standard protocol we tried: its numbers appear as differences to its own plain JPEG.", ""]
    for protocol in results["protocols"]:
        lines += [f"## Headline: bits at equal quality, OpenCV default encoder, protocol `{protocol}`", ""]
        lines += headline(results, protocol) + [""]
    lines += [f"## Table 1 analogue: each stage vs plain JPEG at Q{q} (OpenCV default encoder)", ""]
    for protocol in results["protocols"]:
        lines += [f"### Protocol `{protocol}` (means over images)", ""] + table1_lines(results, protocol) + [""]
    lines += [f"## Table 2 analogue: JPEG-Net fidelity at Q{q}", "",
              "PSNR between JPEG-Net's output on the 8x8 YCrCb blocks of the test patches and the real OpenCV JPEG "
              "of those patches (YCrCb, peak 1, MSE pooled over all blocks), on the original patches (as the paper) "
              "and on the same stage's Modify-Net outputs (what is actually encoded; the paper did not report it).",
              ""] + table2_lines(results) + [""]
    lines += ["## Rate-distortion and BD-rate", ""]
    for protocol in results["protocols"]:
        lines += [f"### Protocol `{protocol}`", "",
                  f"![RD curves, {protocol}]({figure_names['rd'][protocol]})", "",
                  "OpenCV default encoder, means over images:", ""] + rd_lines(results, protocol) + [""]
    lines += ["## Encoders a user could pick instead", "",
              "The encoder's own gain (entropy coding, or jpegli's quantisation) against OpenCV default, and the "
              "pre-edit's gain on top of each encoder against that same encoder, as separate numbers.", ""]
    for protocol in results["protocols"]:
        lines += [f"### Protocol `{protocol}`", "", f"![encoders, {protocol}]({figure_names['encoders'][protocol]})",
                  ""] + encoder_lines(results, protocol) + ["", "Bits at equal quality per encoder:", ""]
        lines += saving_lines(results, protocol) + [""]
    lines += ["## Per-image results", ""]
    for protocol in results["protocols"]:
        lines += [f"### Protocol `{protocol}`, Q{q}, OpenCV default encoder", ""] + per_image_lines(results, protocol)
        lines += [""]
    lines += ["## Visual comparisons (like the paper's Figs. 3-5)", ""]
    lines += [f"![{name}]({file})" for name, file in figure_names["visual"].items()]
    return "\n".join(lines) + "\n"


def summary_lines(results):
    """A few console lines: each model's differences at the run quality and its bits at equal quality."""
    q = results["quality"]
    lines = []
    for protocol in results["protocols"]:
        for model in results["models"]:
            diff = results["table1"][protocol][model]["mean"]["diff"]
            paper = paper_stage(q, model)
            saving = results["bit_saving"][protocol][DEFAULT_ENCODER][model]
            text = (f"[{protocol}] {model} vs JPEG Q{q}: {_num(diff['psnr'], 2, True)} dB, "
                    f"SSIM {_num(diff['ssim'], 4, True)}, bits {_pct(diff['bits'])}")
            if paper:
                text += f" (paper: {_num(paper['d_psnr'], 2, True)} dB, SSIM {_num(paper['d_ssim'], 4, True)})"
            text += (f"; BD-rate PSNR {_pct(_bd(results, protocol, DEFAULT_ENCODER, model, 'psnr'))}, "
                     f"SSIM {_pct(_bd(results, protocol, DEFAULT_ENCODER, model, 'ssim'))}; "
                     f"bit saving at equal PSNR {_pct(saving['at_equal_psnr'])}, "
                     f"SSIM {_pct(saving['at_equal_ssim'])}")
            lines.append(text)
    return lines
