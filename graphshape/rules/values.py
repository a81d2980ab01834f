"""Element values as onnxruntime computes them: exact integer, float and symbolic arithmetic
(Add .. Pow, Mod with both signs, comparisons) on the values rules carry through shape
arithmetic (Shape -> Gather -> Mul -> Concat -> Reshape)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from graphshape.arith import lazy
from graphshape.arith.dims import (
    add,
    dmax,
    dmin,
    is_integer_expr,
    mod,
    mul,
    norm,
    provably,
    sub,
    truncdiv_dim,
)
from graphshape.arith.float32 import is_f32
from graphshape.arith.isl import IslPrinter, NonPresburger, isl_names, size_set
from graphshape.arith.prove import Rel
from graphshape.arith.terms import is_expr
from graphshape.errors import Unsupported
from graphshape.rules import float_values

if TYPE_CHECKING:
    import sympy
else:
    sympy = lazy.module("sympy")


def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def sign_of(v):
    """-1, 0 or 1 when the sign of v is decided for every size, else None."""
    if is_num(v):
        return (v > 0) - (v < 0)
    v = norm(v) if not is_expr(v) or v.is_Integer else v
    if isinstance(v, int):
        return (v > 0) - (v < 0)
    if v.is_Number:
        return (v > 0) - (v < 0)
    if is_integer_expr(v):
        if provably(sub(v, 1), Rel.NONNEG):
            return 1
        if provably(add(v, 1), Rel.NONPOS):
            return -1
        if provably(v, Rel.NONNEG) and provably(v, Rel.NONPOS):
            return 0
        return None
    if provably(v, Rel.NONNEG) and provably(v, Rel.NONPOS):
        return 0
    return None


def mod_value(a, b, fmod: int):
    """onnxruntime's Mod of one pair (b != 0): fmod=0 Python sign, fmod=1 C sign."""
    if is_num(a) and is_num(b):
        if isinstance(a, float) or isinstance(b, float):
            if not (math.isfinite(a) and math.isfinite(b)):
                raise Unsupported("Mod of a non-finite float")
            return math.fmod(a, b) if fmod else float(a % b)
        if fmod:
            r = abs(a) % abs(b)
            return r if a >= 0 else -r
        return a % b
    if not isinstance(b, int):
        return _mod_by_symbol(a, b, fmod)
    if isinstance(a, float) or not is_integer_expr(sympy.sympify(a)):
        raise Unsupported("Mod of a non-integer value")
    if not fmod:
        return mod(a, b) if b > 0 else norm(-mod(norm(-a), -b))
    s = sign_of(a)
    if s is None:
        raise Unsupported("fmod of a value whose sign is not decided")
    return mod(a, abs(b)) if s >= 0 else norm(-mod(norm(-a), abs(b)))


def _mod_by_symbol(a, b, fmod: int):
    """a mod b for a constant a and a symbolic b (dynamo's torch.roll: shift % size, the
    shift negative to roll back): when |b| > |a| at every size where b != 0 (a zero divisor
    is the caller's condition, _check_divisor), C's fmod is a, and Python's sign (b > 0
    required: a negative b flips the result's sign) is a for a >= 0 and a + b for a < 0.
    Decided exactly by isl (no size may put b in [1, |a|], or in [-|a|, -1] for fmod, or
    below 0 for Python's sign). Anything else is Unsupported (no value)."""

    if not isinstance(a, int) or not is_expr(b) or not is_integer_expr(b):
        raise Unsupported("Mod by a symbolic value")
    if a == 0:
        return 0
    m = abs(a)
    syms = sorted(b.free_symbols, key=lambda x: x.name)
    try:
        t = IslPrinter(isl_names(syms)).expr(b)
        bad = (f"((({t}) >= 1 and ({t}) <= {m}) or "
               + (f"(({t}) <= -1 and ({t}) >= {-m}))" if fmod else f"({t}) <= -1)"))
        if size_set(syms, bad).is_empty():
            return a if fmod or a > 0 else norm(add(b, a))
    except NonPresburger:
        pass
    except Exception:  # noqa: BLE001  an isl failure means "no value", never a guess
        pass
    raise Unsupported("Mod by a symbolic value")


COMPARISONS = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}


def compare_values(op: str, a, b) -> int:
    if is_num(a) and is_num(b):
        return int({"Equal": a == b, "Less": a < b, "Greater": a > b, "LessOrEqual": a <= b,
                    "GreaterOrEqual": a >= b}[op])
    if isinstance(a, float):
        a = sympy.Rational(a)
    if isinstance(b, float):
        b = sympy.Rational(b)
    d = norm(sympy.sympify(a) - b)
    s = sign_of(d)
    if s is None:
        raise Unsupported("a comparison that depends on the sizes")
    return int({"Equal": s == 0, "Less": s < 0, "Greater": s > 0, "LessOrEqual": s <= 0,
                "GreaterOrEqual": s >= 0}[op])


def truth_value(v) -> int:
    s = sign_of(v)
    if s is None:
        raise Unsupported("undecided truth value")
    return int(s != 0)


def arith(op: str, a, b, floating: bool = False, fmod: int = 0, f32: bool = False):
    """``a op b`` as onnxruntime computes it. ``f32``: the tensors are float32, and a
    result that float32 rounds (a size times 0.53, a division by a size) becomes a float32
    program (graphshape.arith.float32) instead of no value."""
    if is_f32(a) or is_f32(b):
        return float_values.arith(op, a, b)
    try:
        return _arith(op, a, b, floating, fmod)
    except (Unsupported, ValueError):
        if f32 and op in float_values.OPS and (float_values.is_symbolic(a)
                                               or float_values.is_symbolic(b)):
            return float_values.arith(op, a, b)
        raise


def _arith(op: str, a, b, floating: bool, fmod: int):
    # an integral float meeting a symbolic value (Div by 32.0) is that integer
    if isinstance(a, float) and a.is_integer() and not is_num(b):
        a = int(a)
    if isinstance(b, float) and b.is_integer() and not is_num(a):
        b = int(b)
    if op in COMPARISONS:
        return compare_values(op, a, b)
    if op in ("And", "Or", "Xor"):
        x, y = truth_value(a), truth_value(b)
        return int({"And": x and y, "Or": x or y, "Xor": x != y}[op])
    if op == "Mod":
        if b == 0:
            raise Unsupported("Mod by zero")
        return mod_value(a, b, fmod)
    if isinstance(a, float) or isinstance(b, float):
        if not all(is_num(v) for v in (a, b)):
            # float32 arithmetic on a non-integral constant (0.7) rounds, and the rounding
            # can move a floor: no exact value
            raise Unsupported("mixed float and symbolic values")
        a, b = float(a), float(b)
        if op == "Div" and not b:
            raise Unsupported("float division by zero")
        if op == "Pow":
            return _exact_float_pow(a, b)
        funcs = {"Add": lambda: a + b, "Sub": lambda: a - b, "Mul": lambda: a * b,
                 "Div": lambda: a / b, "Max": lambda: max(a, b), "Min": lambda: min(a, b)}
        if op not in funcs:
            raise Unsupported(f"no float value rule for {op}")
        return funcs[op]()
    if op == "Add":
        return add(a, b)
    if op == "Sub":
        return sub(a, b)
    if op == "Mul":
        return mul(a, b)
    if op == "Div":
        if not isinstance(b, int) and not floating:
            return _exact_quotient(a, b)
        if floating and not isinstance(b, int) and _same_nonzero(a, b):
            return 1.0  # x / x is exactly 1 in IEEE arithmetic for any finite x != 0
        if not isinstance(b, int) or b == 0:
            raise Unsupported("division by a symbolic value or zero")
        if floating:  # exact rational; Floor/Ceil/Cast decide how it becomes an integer
            if isinstance(a, int):
                return a // b if a % b == 0 else sympy.Rational(a, b)
            q = sympy.sympify(a) / b
            return int(q) if q.is_Integer else q
        return truncdiv_dim(a, b)  # onnxruntime's integer Div truncates toward zero
    if op in ("Max", "Min"):
        if not (is_integer_expr(sympy.sympify(a)) and is_integer_expr(sympy.sympify(b))):
            d = sign_of(norm(sympy.sympify(a) - b))
            if d is None:
                raise Unsupported("min/max of non-integer values")
            return (a if d >= 0 else b) if op == "Max" else (a if d <= 0 else b)
        return dmax(a, b) if op == "Max" else dmin(a, b)
    if op == "Pow":
        if isinstance(a, int) and isinstance(b, int) and b >= 0:
            return a ** b
        raise Unsupported("symbolic Pow")
    raise Unsupported(f"no value rule for {op}")


def _same_nonzero(a, b) -> bool:
    """a and b are the same size-valued expression, never 0 (q / q in windowed ViTs'
    relative positions: arange(q) * (q / q))."""
    if not is_expr(a) or not is_expr(b):
        return False
    return sympy.expand(a - b) == 0 and sign_of(b) in (1, -1)


def _exact_float_pow(a: float, b: float) -> float:
    """Float Pow when its result is exact whatever the libm: an integral base to a small
    non-negative integral power, or the square root (exponent 0.5) of a perfect square
    (transformers' interpolate_pos_encoding: num_positions ** 0.5), each below 2**24 so
    that float32 holds it exactly. Anything else may round: Unsupported (no value)."""
    if not (a.is_integer() and b.is_integer() or b == 0.5):
        raise Unsupported("float Pow that may round")
    if b == 0.5:
        n = int(a) if a.is_integer() and a >= 0 else -1
        r = math.isqrt(n) if 0 <= n < 2 ** 24 else -1
        if r < 0 or r * r != n:
            raise Unsupported("float Pow that may round")
        return float(r)
    if not 0 <= b <= 64:
        raise Unsupported("float Pow that may round")
    r = int(a) ** int(b)
    if abs(r) >= 2 ** 24:
        raise Unsupported("float Pow that may round")
    return float(r)


def _exact_quotient(a, b):
    """Integer a / b for a symbolic b when b divides a as a polynomial (Swin's
    (B*nW) / nW, the batch recovered from a window count): the quotient is exact, so
    truncation does not matter. Anything else is Unsupported (no value). A zero divisor is
    the caller's condition (_check_divisor)."""
    if not is_expr(b) or isinstance(a, float):
        raise Unsupported("division by a symbolic value")
    q = sympy.cancel(sympy.sympify(a) / b)
    num, den = q.as_numer_denom()
    if den != 1 or not is_integer_expr(q) or sympy.expand(q * b - a) != 0:
        raise Unsupported("division by a symbolic value that does not divide exactly")
    return norm(q)
