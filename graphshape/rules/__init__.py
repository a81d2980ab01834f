"""Shape rules, one module per op family. Importing this package registers them all."""

from . import (  # noqa: F401
    attention,
    contrib,
    control_flow,
    conv_pool,
    data_dependent,
    elementwise,
    linalg,
    misc,
    newops,
    optional_scan,
    reduce_norm,
    sequences,
    resize,
    shape_ops,
)
