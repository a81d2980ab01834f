"""Detectors (issue 20): torchvision's detection family and an ultralytics-style YOLO head.

Every torchvision detector is built with weights=None, weights_backbone=None (nothing is
downloaded), eval mode, and exported by the TorchScript exporter (opset 17) on one image
[3, H, W] as torchvision's own ONNX tests do; the outputs' first axes are named D (the
detection count, data-dependent). The two-stage and FPN detectors resize the image inside
(GeneralizedRCNNTransform: 800 on the short side, at most 1333 on the long side, then pad
to a multiple of 32); SSD and SSDlite resize to a fixed square (300, 320).

    fasterrcnn_ts        (models/vision.py) Faster R-CNN ResNet-50 FPN
    retinanet_ts         RetinaNet ResNet-50 FPN
    fcos_ts              FCOS ResNet-50 FPN
    ssd300_ts            SSD300 VGG-16 (per-class post-processing: 90 branches)
    ssdlite_ts           SSDlite320 MobileNetV3-Large
    maskrcnn_ts          Mask R-CNN ResNet-50 FPN (masks pasted in a Loop)
    keypointrcnn_ts      Keypoint R-CNN ResNet-50 FPN
    paste_masks_ts       torchvision's mask pasting alone (roi_heads.paste_masks_in_image, the
                         Loop Mask R-CNN runs): masks [N, 1, 28, 28], boxes [N, 4] (float,
                         any values), image [3, H, W] for the size; output [N, 1, H, W]
    heatmap_keypoints_ts torchvision's keypoint decoding alone (roi_heads.heatmaps_to_keypoints,
                         the Loop Keypoint R-CNN runs): heatmaps [N, 17, 56, 56], boxes
                         [N, 4] (float, any values); outputs [N, 17, 3] and [N, 17]
    yolo_head_ts         an ultralytics-style YOLOv8 model (C2f/SPPF backbone, PAN neck,
                         anchor-free Detect head with DFL), written here in torch; input
                         [1, 3, H, W], output [1, 4 + 80, anchors] as ultralytics exports it

Exports take 20-60 s and up to about 4 GB of memory each: build them one at a time.
"""

from __future__ import annotations

from ._export import cached, export

TORCHVISION = {
    "retinanet_ts": "retinanet_resnet50_fpn",
    "fcos_ts": "fcos_resnet50_fpn",
    "ssd300_ts": "ssd300_vgg16",
    "ssdlite_ts": "ssdlite320_mobilenet_v3_large",
    "maskrcnn_ts": "maskrcnn_resnet50_fpn",
    "keypointrcnn_ts": "keypointrcnn_resnet50_fpn",
}
NAMES = list(TORCHVISION) + ["yolo_head_ts", "paste_masks_ts", "heatmap_keypoints_ts"]

_OUTPUTS = {
    "maskrcnn_ts": ["boxes", "labels", "scores", "masks"],
    "keypointrcnn_ts": ["boxes", "labels", "scores", "keypoints", "keypoints_scores"],
}


def build(out_dir: str, name: str) -> str:
    if name == "yolo_head_ts":
        return build_yolo(out_dir)
    if name == "paste_masks_ts":
        return build_paste_masks(out_dir)
    if name == "heatmap_keypoints_ts":
        return build_heatmap_keypoints(out_dir)
    return build_torchvision(out_dir, name)


def build_torchvision(out_dir: str, name: str) -> str:
    import torch
    import torchvision

    path, hit = cached(out_dir, name)
    if hit:
        return path
    torch.manual_seed(0)
    ctor = getattr(torchvision.models.detection, TORCHVISION[name])
    m = ctor(weights=None, weights_backbone=None).eval()
    x = torch.rand(3, 320, 480)
    outs = _OUTPUTS.get(name, ["boxes", "labels", "scores"])
    axes = {"image": {1: "H", 2: "W"}}
    axes.update({o: {0: "D"} for o in outs})
    return export(m, ([x],), path, dynamo=False, input_names=["image"], output_names=outs,
                  dynamic_axes=axes, opset=17)


def build_paste_masks(out_dir: str) -> str:
    import torch
    from torchvision.models.detection.roi_heads import paste_masks_in_image

    path, hit = cached(out_dir, "paste_masks_ts")
    if hit:
        return path

    class Paste(torch.nn.Module):
        def forward(self, masks, boxes, image):
            return paste_masks_in_image(masks, boxes, (image.shape[-2], image.shape[-1]),
                                        padding=1)

    masks = torch.rand(3, 1, 28, 28)
    boxes = torch.tensor([[1.0, 2.0, 20.0, 30.0], [0.0, 0.0, 5.0, 5.0], [10, 10, 40, 40]])
    return export(Paste().eval(), (masks, boxes, torch.rand(3, 50, 60)), path, dynamo=False,
                  input_names=["masks", "boxes", "image"], output_names=["masks_in_image"],
                  dynamic_axes={"masks": {0: "N"}, "boxes": {0: "N"}, "image": {1: "H", 2: "W"},
                                "masks_in_image": {0: "N", 2: "H", 3: "W"}}, opset=17)


def build_heatmap_keypoints(out_dir: str) -> str:
    import torch
    from torchvision.models.detection.roi_heads import heatmaps_to_keypoints

    path, hit = cached(out_dir, "heatmap_keypoints_ts")
    if hit:
        return path

    class Decode(torch.nn.Module):
        def forward(self, maps, rois):
            return heatmaps_to_keypoints(maps, rois)

    maps = torch.rand(3, 17, 56, 56)
    rois = torch.tensor([[1.0, 2.0, 20.0, 30.0], [0.0, 0.0, 5.0, 5.0], [10, 10, 40, 40]])
    return export(Decode().eval(), (maps, rois), path, dynamo=False,
                  input_names=["heatmaps", "boxes"], output_names=["keypoints", "scores"],
                  dynamic_axes={"heatmaps": {0: "N"}, "boxes": {0: "N"},
                                "keypoints": {0: "N"}, "scores": {0: "N"}}, opset=17)


# ---- an ultralytics-style YOLOv8 (random weights; the layer layout of yolov8n) -----------
def _yolo_module():
    import torch
    from torch import nn

    class Conv(nn.Module):
        def __init__(self, c1, c2, k=1, s=1):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
            self.bn = nn.BatchNorm2d(c2)
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    class Bottleneck(nn.Module):
        def __init__(self, c, shortcut=True):
            super().__init__()
            self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)
            self.add = shortcut

        def forward(self, x):
            y = self.cv2(self.cv1(x))
            return x + y if self.add else y

    class C2f(nn.Module):
        def __init__(self, c1, c2, n=1, shortcut=False):
            super().__init__()
            self.c = c2 // 2
            self.cv1 = Conv(c1, 2 * self.c)
            self.cv2 = Conv((2 + n) * self.c, c2)
            self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

        def forward(self, x):
            y = list(self.cv1(x).chunk(2, 1))
            y.extend(m(y[-1]) for m in self.m)
            return self.cv2(torch.cat(y, 1))

    class SPPF(nn.Module):
        def __init__(self, c1, c2, k=5):
            super().__init__()
            c_ = c1 // 2
            self.cv1, self.cv2 = Conv(c1, c_), Conv(c_ * 4, c2)
            self.m = nn.MaxPool2d(k, 1, k // 2)

        def forward(self, x):
            x = self.cv1(x)
            y1 = self.m(x)
            y2 = self.m(y1)
            return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))

    class DFL(nn.Module):
        def __init__(self, c1=16):
            super().__init__()
            self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
            self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
            self.c1 = c1

        def forward(self, x):
            b, _, a = x.shape
            return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)

    def make_anchors(feats, strides, offset=0.5):
        anchor_points, stride_tensor = [], []
        for i, stride in enumerate(strides):
            _, _, h, w = feats[i].shape
            sx = torch.arange(end=w, dtype=torch.float32) + offset
            sy = torch.arange(end=h, dtype=torch.float32) + offset
            sy, sx = torch.meshgrid(sy, sx, indexing="ij")
            anchor_points.append(torch.stack((sx, sy), -1).view(-1, 2))
            stride_tensor.append(torch.full((h * w, 1), stride, dtype=torch.float32))
        return torch.cat(anchor_points), torch.cat(stride_tensor)

    class Detect(nn.Module):
        def __init__(self, nc=80, ch=(64, 128, 256), reg_max=16):
            super().__init__()
            self.nc, self.reg_max, self.no = nc, reg_max, nc + reg_max * 4
            self.stride = (8.0, 16.0, 32.0)
            c2, c3 = max(16, ch[0] // 4, reg_max * 4), max(ch[0], min(nc, 100))
            self.cv2 = nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3),
                                                   nn.Conv2d(c2, 4 * reg_max, 1)) for x in ch)
            self.cv3 = nn.ModuleList(nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3),
                                                   nn.Conv2d(c3, nc, 1)) for x in ch)
            self.dfl = DFL(reg_max)

        def forward(self, xs):
            xs = [torch.cat((self.cv2[i](x), self.cv3[i](x)), 1) for i, x in enumerate(xs)]
            b = xs[0].shape[0]
            anchors, strides = (t.transpose(0, 1) for t in make_anchors(xs, self.stride))
            x_cat = torch.cat([xi.view(b, self.no, -1) for xi in xs], 2)
            box, cls = x_cat.split((self.reg_max * 4, self.nc), 1)
            d = self.dfl(box)
            lt, rb = d.chunk(2, 1)
            x1y1, x2y2 = anchors.unsqueeze(0) - lt, anchors.unsqueeze(0) + rb
            dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
            return torch.cat((dbox, cls.sigmoid()), 1)

    class YOLO(nn.Module):
        def __init__(self, nc=80):
            super().__init__()
            self.b0 = nn.Sequential(Conv(3, 16, 3, 2), Conv(16, 32, 3, 2), C2f(32, 32, 1, True))
            self.b1 = nn.Sequential(Conv(32, 64, 3, 2), C2f(64, 64, 2, True))  # P3/8
            self.b2 = nn.Sequential(Conv(64, 128, 3, 2), C2f(128, 128, 2, True))  # P4/16
            self.b3 = nn.Sequential(Conv(128, 256, 3, 2), C2f(256, 256, 1, True),
                                    SPPF(256, 256))  # P5/32
            self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
            self.n1 = C2f(256 + 128, 128)
            self.n2 = C2f(128 + 64, 64)  # P3 out
            self.d1 = Conv(64, 64, 3, 2)
            self.n3 = C2f(64 + 128, 128)  # P4 out
            self.d2 = Conv(128, 128, 3, 2)
            self.n4 = C2f(128 + 256, 256)  # P5 out
            self.detect = Detect(nc, (64, 128, 256))

        def forward(self, x):
            p3 = self.b1(self.b0(x))
            p4 = self.b2(p3)
            p5 = self.b3(p4)
            h4 = self.n1(torch.cat((self.up(p5), p4), 1))
            o3 = self.n2(torch.cat((self.up(h4), p3), 1))
            o4 = self.n3(torch.cat((self.d1(o3), h4), 1))
            o5 = self.n4(torch.cat((self.d2(o4), p5), 1))
            return self.detect([o3, o4, o5])

    torch.manual_seed(0)
    return YOLO().eval()


def build_yolo(out_dir: str) -> str:
    import torch

    path, hit = cached(out_dir, "yolo_head_ts")
    if hit:
        return path
    m = _yolo_module()
    x = torch.rand(1, 3, 320, 480)
    with torch.no_grad():
        return export(m, (x,), path, dynamo=False, input_names=["images"],
                      output_names=["output0"],
                      dynamic_axes={"images": {2: "H", 3: "W"}, "output0": {2: "A"}},
                      opset=17)
