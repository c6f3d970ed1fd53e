"""tfjpegnet: CNN pre-editing that makes standard JPEG files better at the same size.

Implements Nagasaki et al., "Image Coding Method with a Super-Resolution CNN"
(Modify-Net edits an image before a standard JPEG encoder; JPEG-Net imitates JPEG so
that Modify-Net can be trained through it), plus rate-aware training with an analytic
differentiable JPEG model.
"""

__version__ = "0.1.0"
