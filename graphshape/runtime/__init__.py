"""onnxruntime as the arbiter: verify a domain at its edges, each run in a child worker.
May import every folder above it (arith/ .. domain/)."""
