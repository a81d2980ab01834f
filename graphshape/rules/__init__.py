"""Shape rules, one module per op family; importing this package registers them all.
May import arith/, loader/ and shapes/ (the registry, the rule context, constraints)."""

from graphshape.rules import (  # noqa: F401  (importing a family registers its rules)
    attention,
    contrib,
    control_flow,
    conv_pool,
    data_dependent,
    elementwise,
    linalg,
    loss,
    misc,
    optional,
    reduce_norm,
    resize,
    sequences,
    shape_ops,
    signal,
    text_image,
)
