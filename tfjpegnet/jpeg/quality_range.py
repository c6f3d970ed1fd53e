"""The JPEG quality setting: an integer in 1..100 (pure Python; no codec is loaded)."""

from tfjpegnet.errors import UserError


def check_quality(quality):
    """Return ``quality`` as an int in 1..100; raise UserError with a clear message otherwise."""
    try:
        q = int(str(quality).strip())
    except ValueError:
        raise UserError(f"JPEG quality must be an integer in 1..100, got {quality!r}") from None
    if not 1 <= q <= 100:
        raise UserError(f"JPEG quality must be in 1..100, got {q}")
    return q
