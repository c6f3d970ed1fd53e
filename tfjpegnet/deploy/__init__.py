"""Deployment: tiling, SavedModel (TF Serving), TFLite (LiteRT), the serving client and encode."""
