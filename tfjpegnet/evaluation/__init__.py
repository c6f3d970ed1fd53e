"""Evaluation with real JPEG: metrics, measurement, reports, figures, proxy fidelity, operating points, per-image optimum."""
