"""Name -> builder for every example model; builders cache their ONNX files.

Every builder is deterministic (torch.manual_seed, random weights, weights=None: nothing is
downloaded), writes to a temp name and os.replace()s it into the cache, and reuses a cached
file. Each export leaves NAME.onnx.stats.json beside the model (export seconds, node count);
``python -m models stats`` prints the table that models/README.md holds.
"""

from __future__ import annotations

import os
from functools import partial

from . import attention, detection, everyday, hf, keras, small, toy, transformer, vision

DEFAULT_CACHE = os.environ.get(
    "GRAPHSHAPE_MODEL_CACHE",
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache",
                 "models"))

_cls = vision.build_classifier

# name -> (builder(out_dir) -> path, one-line description)
BUILDERS = {
    "toy": (lambda out: toy.build(out), "Conv/Pool features + flatten + Linear head (256x256)"),
    "toy_dynamo": (lambda out: toy.build(out, dynamo=True), "the toy via the dynamo exporter"),
    # -- corpus (issue 3) --------------------------------------------------------------
    "resnet50_ts": (partial(_cls, name="resnet50"),
                    "torchvision resnet50, adaptive pool head, N/H/W symbolic (TorchScript)"),
    "resnet50_dynamo": (partial(_cls, name="resnet50", dynamo=True),
                        "torchvision resnet50 via dynamo (Dim.AUTO on N, H, W)"),
    "resnet50_avgpool7_ts": (partial(_cls, name="resnet50_avgpool7"),
                             "resnet50 with the old AvgPool2d(7) head: fc pins a size range"),
    "resnet50_avgpool7_dynamo": (partial(_cls, name="resnet50_avgpool7", dynamo=True),
                                 "resnet50 + AvgPool2d(7) via dynamo"),
    "mobilenet_v3_small_ts": (partial(_cls, name="mobilenet_v3_small"),
                              "torchvision mobilenet_v3_small (TorchScript)"),
    "mobilenet_v3_small_dynamo": (partial(_cls, name="mobilenet_v3_small", dynamo=True),
                                  "torchvision mobilenet_v3_small via dynamo"),
    "vgg11_ts": (partial(_cls, name="vgg11", fixed_hw=True),
                 ("vgg11, TorchScript at a fixed 224x224 (symbolic H, W cannot export): "
                  "re-symbolise with --dim")),
    "vgg11_dynamo": (partial(_cls, name="vgg11", dynamo=True),
                     "vgg11 via dynamo: adaptive pool lowered to a fixed AveragePool"),
    "unet_ts": (partial(small.build, name="unet"),
                "4-level U-Net, channels 8..128, skip concats (TorchScript)"),
    "unet_dynamo": (partial(small.build, name="unet", dynamo=True), "the U-Net via dynamo"),
    "fpn_ts": (partial(small.build, name="fpn"),
               "FPN: nearest 2x upsampling added to laterals, 4 outputs (TorchScript)"),
    "fpn_dynamo": (partial(small.build, name="fpn", dynamo=True), "the FPN via dynamo"),
    "vit_tiny_ts": (partial(_cls, name="vit_tiny", batch=False),
                    "VisionTransformer 224/16, 2 layers, hidden 64 (TorchScript)"),
    "vit_tiny_dynamo": (partial(_cls, name="vit_tiny", dynamo=True, batch=False),
                        "the small ViT via dynamo, Dim.AUTO"),
    "vit_tiny_dynamo_named": (partial(_cls, name="vit_tiny", dynamo=True, batch=False,
                                      named_dims=True),
                              "the small ViT via dynamo, Dim('H'): specialised to 224"),
    "vit_b_16_ts": (partial(_cls, name="vit_b_16", batch=False),
                    "torchvision vit_b_16 (TorchScript)"),
    "vit_b_16_dynamo": (partial(_cls, name="vit_b_16", dynamo=True, batch=False),
                        "torchvision vit_b_16 via dynamo, Dim.AUTO"),
    "fasterrcnn_ts": (vision.build_fasterrcnn,
                      "fasterrcnn_resnet50_fpn, eval, image [3, H, W] (TorchScript)"),
    "reshape_head_ts": (partial(small.build, name="reshape_head"),
                        "conv backbone + view(2, -1, 91, 168, 96): the field failure"),
    "reshape_head_dynamo": (partial(small.build, name="reshape_head", dynamo=True),
                            "the reshape head via dynamo"),
    "bert_tiny_ts": (partial(small.build, name="bert_tiny"),
                     "BERT-style encoder, 512 positions, input_ids [1, S] (TorchScript)"),
    "bert_tiny_dynamo": (partial(small.build, name="bert_tiny", dynamo=True),
                         "the BERT-style encoder via dynamo"),
    # -- shape arithmetic (issue 9) -------------------------------------------------------
    "gpt2_tiny_ts": (partial(transformer.build, name="gpt2_tiny"),
                     "GPT-2-style causal LM, 40-row position table on arange(S) (TorchScript)"),
    "window_attn_ts": (partial(transformer.build, name="window_attn"),
                       "Swin-like window attention, pad (w - h % w) % w from the shape"),
    "tf_same_pad_ts": (partial(transformer.build, name="tf_same_pad"),
                       "TF 'same' padding computed from x.shape, F.pad, stride-2 Conv"),
    "gpt2_tiny_dynamo": (partial(transformer.build, name="gpt2_tiny", dynamo=True),
                         "the GPT-2-style LM via dynamo"),
    "window_attn_dynamo": (partial(transformer.build, name="window_attn", dynamo=True),
                           "the window-attention block via dynamo"),
    "tf_same_pad_dynamo": (partial(transformer.build, name="tf_same_pad", dynamo=True),
                           "the TF 'same' padding model via dynamo"),
    "attention_opset23": (attention.build, "one attention block, dynamo at opset 23: Attention"),
}
BUILDERS.update({n: (partial(hf.build, name=n), "transformers " + n) for n in hf.NAMES})
BUILDERS.update({n: (partial(keras.build, name=n), "Keras via tf2onnx: " + n)
                 for n in keras.NAMES})
# -- everyday classes (issue 21): timm, T5, wav2vec2, a KV-cache decoder ------------------
BUILDERS.update({n: (partial(everyday.build, name=n), "issue 21: " + n) for n in everyday.NAMES})

# -- detectors (issue 20): torchvision's detection family, an ultralytics-style YOLO ---------
BUILDERS.update({n: (partial(detection.build, name=n), "detector: " + (
    "torchvision " + detection.TORCHVISION[n] if n in detection.TORCHVISION else
    "torchvision's paste_masks_in_image (Mask R-CNN's Loop) alone" if n == "paste_masks_ts"
    else "torchvision's heatmaps_to_keypoints (Keypoint R-CNN's Loop) alone"
    if n == "heatmap_keypoints_ts"
    else "ultralytics-style YOLOv8 (C2f, SPPF, PAN neck, DFL head), [1, 3, H, W]"))
    for n in detection.NAMES})

# slow to export, analyse or run: tests mark them @pytest.mark.large
LARGE = {"resnet50_ts", "resnet50_dynamo", "resnet50_avgpool7_ts", "resnet50_avgpool7_dynamo",
         "vit_b_16_ts", "vit_b_16_dynamo", "fasterrcnn_ts", "swin_timm_dynamo",
         "mobilevit_timm_dynamo"} | set(detection.TORCHVISION)


def build(name: str, out_dir: str = DEFAULT_CACHE) -> str:
    fn, _ = BUILDERS[name]
    return fn(out_dir)
