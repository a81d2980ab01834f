"""The walk over the graph: the engine, the rule registry and contract, constraints, and
onnxruntime's refusal tables. May import arith/ and loader/."""
