"""Builders of graphshape's example models: deterministic, random weights, no downloads.

Every builder writes into a cache folder (git-ignored) and returns the ONNX path; a model
that is already built is reused."""
