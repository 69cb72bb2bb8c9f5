"""Recognition models shipped with the agent (ONNX + config + model card) and their training."""
