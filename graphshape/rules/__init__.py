"""Shape rules, one module per op family. Importing this package registers them all."""

from . import conv_pool, elementwise, linalg, shape_ops  # noqa: F401
