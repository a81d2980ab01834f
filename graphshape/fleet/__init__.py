"""Auditing a registry of models: many files analysed (in parallel), one row per model.
May import every folder above it and graphshape.analysis."""
