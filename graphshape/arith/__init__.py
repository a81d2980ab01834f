"""The arithmetic core: dims as canonical sympy terms, their one translation to isl, proofs.
Imports only the face's leaves (errors, stats); every folder below may use it."""

# Layers, each importing only the ones above it (no cycle):
#     terms    dims, symbols, structural facts (integer-valued, denominators)
#     isl      the only writer of isl text and variable names
#     prove    nonneg / nonpos / at_least / can_prove: structural first, isl second
#     expr     canonical construction (floor/ceil/trunc division, mod, min/max, printing)
#     compile  dims -> exact Python integer functions of the sizes
#     dims     the construction vocabulary the rules use, under one name
