"""Plate recognition: the one owner of plate formats and of the model contract.

The agent, the central, provisioning's self-test and the models' training and evaluation
all import this package; it imports none of them. `model_config` reads the TOML beside each
ONNX file in `models/`, `detector` and `reader` run them with onnxruntime, `recognizer`
joins them into reads, `plate_formats` knows each country's layouts and look-alikes.
Nothing here imports torch or training code.
"""
