"""Training: run configuration and presets, patches, objectives, the loop with checkpoints, the stage schedule."""
