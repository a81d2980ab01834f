"""Reading ONNX files: the protobuf wire format, external data, tensors, and the Graph.
May import arith/ (symbols for re-symbolised dims) and the face's leaves."""
