"""Real JPEG codecs, the encoders users compare against, colour conversion, the differentiable proxy and the rate estimate."""
