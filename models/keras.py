"""TensorFlow/Keras models through tf2onnx (random weights, weights=None: no downloads).

mobilenet_v3_small_keras   keras.applications.MobileNetV3Small, input_shape=(None, None, 3)
resnet50_keras             keras.applications.ResNet50, include_top=True: fixed 224x224
                           (re-symbolise with --dim input:1=H --dim input:2=W)
inception_resnet_v2_keras  keras.applications.InceptionResNetV2, include_top=False, symbolic
sequential_keras           Sequential Conv-Pool-Flatten-Dense built for 32x32 (fixed)
xception_keras             keras.applications.Xception, include_top=False, symbolic: separable
                           convs and 'same' max pools with strided 1x1 residual convs

Inputs are NHWC, batch 1, named "input"; tf2onnx names symbolic dims unk__N, which the
builder renames to H and W. tf2onnx.convert.from_function is used because from_keras fails
on Keras 3 models. The conversion runs in a child process with the Python that has
TensorFlow (GRAPHSHAPE_TF_PYTHON, else .cache/tfvenv/bin/python, else this one), so the
analyser's process never imports TensorFlow next to torch:

    python -m models.keras NAME OUT.onnx
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ._export import _write_stats, cached

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ("mobilenet_v3_small_keras", "resnet50_keras", "inception_resnet_v2_keras",
         "sequential_keras", "xception_keras")


def tf_python() -> str:
    env = os.environ.get("GRAPHSHAPE_TF_PYTHON")
    if env:
        return env
    venv = os.path.join(ROOT, ".cache", "tfvenv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def build(out_dir: str, name: str) -> str:
    path, done = cached(out_dir, name)
    if done:
        return path
    tmp = path + ".tmp"
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               KERAS_BACKEND="tensorflow")
    t0 = time.perf_counter()
    r = subprocess.run([tf_python(), "-m", "models.keras", name, tmp], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0 or not os.path.exists(tmp):
        tail = " ".join((r.stderr or r.stdout).strip().splitlines()[-3:])[-500:]
        raise RuntimeError(f"converting {name} with tf2onnx failed (exit {r.returncode}): "
                           f"{tail}")
    _write_stats(tmp, path, seconds, "tf2onnx")
    os.replace(tmp, path)
    return path


# ---- the child process: TensorFlow, Keras and tf2onnx are imported only here -------------
def _keras_model(name: str):
    import keras

    keras.utils.set_random_seed(0)
    if name == "mobilenet_v3_small_keras":
        return keras.applications.MobileNetV3Small(input_shape=(None, None, 3), weights=None), \
            (None, None)
    if name == "resnet50_keras":
        return keras.applications.ResNet50(include_top=True, weights=None), (224, 224)
    if name == "inception_resnet_v2_keras":
        return keras.applications.InceptionResNetV2(include_top=False, weights=None,
                                                    input_shape=(None, None, 3)), (None, None)
    if name == "xception_keras":
        return keras.applications.Xception(include_top=False, weights=None,
                                           input_shape=(None, None, 3)), (None, None)
    if name == "sequential_keras":
        L = keras.layers
        return keras.Sequential([keras.Input((32, 32, 3)), L.Conv2D(8, 3, activation="relu"),
                                 L.MaxPooling2D(2), L.Flatten(), L.Dense(10)]), (32, 32)
    raise SystemExit(f"unknown Keras model '{name}'; one of {', '.join(NAMES)}")


def _convert(name: str, out: str) -> None:
    import onnx
    import tensorflow as tf
    import tf2onnx

    model, (h, w) = _keras_model(name)
    spec = (tf.TensorSpec((1, h, w, 3), tf.float32, name="input"),)

    @tf.function(input_signature=spec)
    def fn(x):
        return model(x, training=False)

    tf2onnx.convert.from_function(fn, input_signature=spec, opset=17, output_path=out)
    m = onnx.load(out)
    m.ir_version = min(m.ir_version, 10)
    for vi in m.graph.input:
        dims = vi.type.tensor_type.shape.dim
        for axis, sym in ((1, "H"), (2, "W")):
            if axis < len(dims) and dims[axis].HasField("dim_param"):
                dims[axis].dim_param = sym
    onnx.save(m, out)


if __name__ == "__main__":
    _convert(sys.argv[1], sys.argv[2])
