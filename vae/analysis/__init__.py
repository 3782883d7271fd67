"""Looking inside a trained model: per-image figures and prior holes (diagnostics.py), sample
quality, gradient estimators, the 2D map (projection.py), completion, and walks through the space."""
