"""The arithmetic core: expressions, their one translation to isl, proofs, the compiler.

Layers, each importing only the ones above it (no cycle):

    terms    dims, symbols, structural facts (integer-valued, denominators)
    isl      the only writer of isl text and variable names
    prove    nonneg / nonpos / at_least / can_prove: structural first, isl second
    expr     canonical construction (floor/ceil/trunc division, mod, min/max, printing)
    compile  dims -> exact Python integer functions of the sizes

``Analyzer`` is the front object (as TVM's arith.Analyzer): one place a caller asks
"can this be proved?", "what is this at these sizes?", "how does isl spell this?".
Rules use the construction functions through ``graphshape.dims``.
"""

from __future__ import annotations

from . import compile as _compile
from . import expr, isl, prove, terms
from .terms import Dim

__all__ = ["Analyzer", "ANALYZER", "Dim", "expr", "isl", "prove", "terms"]


class Analyzer:
    """Questions about dims, answered exactly or not at all."""

    def can_prove(self, e: Dim, rel: str) -> bool:
        """Whether ``e rel 0`` ('>=', '<=', '==') holds at every size."""
        return prove.can_prove(e, rel)

    def nonneg(self, e: Dim) -> bool:
        return prove.nonneg(e)

    def at_least(self, e: Dim, k: int) -> bool:
        return prove.at_least(e, k)

    def to_isl(self, e: Dim, symbols) -> str:
        """isl text of ``e`` over ``symbols`` (named as isl.isl_names does)."""
        return isl.IslPrinter(isl.isl_names(symbols)).expr(e)

    def compile(self, e: Dim):
        """A function env -> int (env maps symbol names to ints), exact."""
        return _compile.compile_dim(e)

    def evaluate(self, e: Dim, env: dict) -> Dim:
        return expr.substitute(e, env)

    def to_str(self, e: Dim) -> str:
        return expr.to_str(e)


ANALYZER = Analyzer()
