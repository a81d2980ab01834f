"""TensorFlow/Keras models through tf2onnx (NHWC, Transposes, 'unk__N' dims renamed H, W):
each domain proved and run on onnxruntime at its edges. The conversions run in a child
process with TensorFlow (models/keras.py); marker `keras` (CI runs it)."""

from __future__ import annotations

import pytest

from graphshape import analyze
from models import registry

from .conftest import assert_agrees

pytestmark = pytest.mark.keras

RESYM = {"input:1": "H", "input:2": "W"}


def _analysis(model_cache, name, dims=None):
    return analyze(registry.build(name, model_cache), dims=dims)


def _first(a) -> str:
    return str(a.domain).splitlines()[0].strip()


def test_sequential_conv_pool_flatten_dense(model_cache):
    """Built for 32x32; Flatten -> Dense(10) needs h*w == 15*15 after Conv 3 and MaxPool 2:
    a union of boxes, like the torch toy."""
    a = _analysis(model_cache, "sequential_keras", RESYM)
    assert a.domain.exact
    assert "(32 <= H <= 33 and 32 <= W <= 33) or" in str(a.domain)
    assert_agrees(a, [{"H": 32, "W": 32}, {"H": 33, "W": 33}, {"H": 34, "W": 32},
                      {"H": 31, "W": 32}, {"H": 3, "W": 452}, {"H": 5, "W": 453},
                      {"H": 6, "W": 452}, {"H": 152, "W": 9}, {"H": 152, "W": 10}])


def test_mobilenet_v3_small_symbolic_input(model_cache):
    a = _analysis(model_cache, "mobilenet_v3_small_keras")
    assert a.domain.exact and _first(a) == "any H >= 31; any W >= 31"
    assert_agrees(a, [{"H": 31, "W": 31}, {"H": 30, "W": 31}, {"H": 31, "W": 30},
                      {"H": 1, "W": 1}, {"H": 32, "W": 97}, {"H": 224, "W": 224}])


def test_resnet50_fixed_224_resymbolised(model_cache):
    """include_top=True at 224, re-symbolised: the head is a global average pool, so every
    size runs (Keras pads explicitly before each strided 'valid' conv and pool)."""
    a = _analysis(model_cache, "resnet50_keras", RESYM)
    assert a.domain.exact and _first(a) == "any H; any W"
    assert_agrees(a, [{"H": 1, "W": 1}, {"H": 2, "W": 3}, {"H": 224, "W": 224},
                      {"H": 97, "W": 33}])


def test_inception_resnet_v2_minimum_is_proved(model_cache):
    """Without top, symbolic input: the folklore minimum 75 is the true bound for Keras's
    InceptionResNetV2 ('valid' stem convs and pools): 74 fails, 75 runs. Below it
    onnxruntime raises at some sizes and dies with SIGFPE at others (7-8, 19-34, 43-58
    here); verification runs in a child process, so a crash counts as 'invalid'."""
    a = _analysis(model_cache, "inception_resnet_v2_keras")
    assert a.domain.exact and _first(a) == "any H >= 75; any W >= 75"
    rep = assert_agrees(a, [{"H": 74, "W": 75}, {"H": 75, "W": 74}, {"H": 75, "W": 75},
                            {"H": 1, "W": 1}, {"H": 7, "W": 7}, {"H": 30, "W": 30},
                            {"H": 50, "W": 50}, {"H": 74, "W": 300}, {"H": 75, "W": 300}])
    crashed = [v.sizes for v in rep.verdicts if "SIGFPE" in v.detail]
    assert {"H": 30, "W": 30} in crashed, [v.detail for v in rep.verdicts]


def test_xception_why_is_readable(model_cache):
    """Keras Xception (tf2onnx): exactly any H, W >= 7. Its 'same' max pools after strided
    convs used to print nested floors for lines on end (-2*floor((-max(0, -floor((1 -
    floor((H - 3)/2))/2) - 1) + min(...); each pool's map is now one ceil of the input,
    ceil((H - 6)/2**k), and every 'why' line fits in two lines."""
    from graphshape.answers.reasons import bound_lines

    a = _analysis(model_cache, "xception_keras")
    assert a.domain.exact and _first(a) == "any H >= 7; any W >= 7"
    why = bound_lines(a, show_all=True, cut=False)
    assert all(len(line.strip()) <= 200 for line in why), max(why, key=len)
    text = "\n".join(why)
    assert "ceil((H - 6)/16) >= 1" in text and "floor((1 - floor" not in text
    assert "max(0" not in text and "min(" not in text
    assert_agrees(a, [{"H": h, "W": w} for h, w in ((7, 7), (6, 7), (7, 6), (1, 1), (8, 9),
                                                    (33, 64), (224, 224), (299, 101))])
