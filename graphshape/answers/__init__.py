"""What users act on: fit, TensorRT profiles, torch spec, contracts, reasons, layers, audit.
May import arith/, loader/, shapes/, rules/, domain/ and runtime/."""
