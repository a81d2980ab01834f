"""Strings, text and images: StringConcat, RegexFullMatch, StringSplit, StringNormalizer,
TfIdfVectorizer, ImageDecoder (onnxruntime 1.31's CPU kernels)."""

from __future__ import annotations

from graphshape.errors import Unsupported
from graphshape.loader.tensor import BOOL, FLOAT, INT64, STRING, UINT8, Tensor
from graphshape.rules._common import broadcast_shapes
from graphshape.shapes.registry import rule


# ---- strings, text ----------------------------------------------------------------------
@rule("StringConcat", since=20)
def string_concat(ctx, X, Y):
    """Z = X + Y elementwise with broadcasting
    (https://onnx.ai/onnx/operators/onnx__StringConcat.html)."""
    return Tensor(broadcast_shapes(ctx, [X.shape, Y.shape]), STRING)


@rule("RegexFullMatch", since=20)
def regex_full_match(ctx, X, *, pattern: str | None = None):
    """Y: bool, X's shape (https://onnx.ai/onnx/operators/onnx__RegexFullMatch.html)."""
    return Tensor(X.shape, BOOL)


@rule("StringSplit", since=20)
def string_split(ctx, X, *, delimiter: str | None = None, maxsplit: int | None = None):
    """Y: X's shape + (the most pieces, known only at run time); Z: X's shape, int64
    (https://onnx.ai/onnx/operators/onnx__StringSplit.html)."""
    pieces = ctx.fresh("StringSplit piece count")
    return [Tensor(tuple(X.shape) + (pieces,), STRING), Tensor(X.shape, INT64)][
        :ctx.n_outputs]


@rule("StringNormalizer", since=10)
def string_normalizer(ctx, X, *, case_change_action: str = "NONE", is_case_sensitive: int = 0,
                      locale: str | None = None, stopwords=None):
    """[C] or [1, C] in; as many strings out as survive the stop words (at least 1)
    (https://onnx.ai/onnx/operators/onnx__StringNormalizer.html)."""
    r = len(X.shape)
    if r not in (1, 2) or (r == 2 and X.shape[0] != 1):
        if r == 2 and not isinstance(X.shape[0], int):
            ctx.eq(X.shape[0], 1, "a 2-D input must be [1, C]")
        else:
            ctx.fail("the input must be [C] or [1, C]")
    c = X.shape[-1]
    if not stopwords:
        out = c
    elif X.value is not None:
        raise Unsupported("stop words over known strings")
    else:
        out = ctx.fresh("StringNormalizer output length")
    return Tensor(((out,) if r == 1 else (1, out)), STRING)


@rule("TfIdfVectorizer", since=9)
def tfidf(ctx, X, *, max_gram_length: int, max_skip_count: int, min_gram_length: int,
          mode: str, ngram_counts, ngram_indexes, pool_int64s=None, pool_strings=None,
          weights=None):
    """[C] -> [max(ngram_indexes) + 1], [N, C] -> [N, max + 1]
    (https://onnx.ai/onnx/operators/onnx__TfIdfVectorizer.html)."""
    width = max(ngram_indexes) + 1 if len(ngram_indexes) else 0
    if len(X.shape) == 1:
        return Tensor((width,), FLOAT)
    if len(X.shape) == 2:
        return Tensor((X.shape[0], width), FLOAT)
    ctx.fail(f"X must be 1-D or 2-D, found rank {len(X.shape)}")


@rule("ImageDecoder", since=20)
def image_decoder(ctx, encoded_stream, *, pixel_format: str = "RGB"):
    """(H, W, C) of the decoded image, known only at run time
    (https://onnx.ai/onnx/operators/onnx__ImageDecoder.html)."""
    channels = 1 if pixel_format == "Grayscale" else 3
    return Tensor((ctx.fresh("decoded image height"), ctx.fresh("decoded image width"),
                   channels), UINT8)
