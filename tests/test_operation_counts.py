"""MAC and parameter counts of ONNX graphs (models/operation_counts.py, issue #19).

The model cards' Pi 5 and Jetson estimates divide these counts by a machine's rate, so a
wrong count is a wrong estimate: tiny graphs with counts worked out by hand, then the shipped
files against bounds computed from their own layers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")  # the `train` extra; `make test` installs only `dev`

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from models.operation_counts import (  # noqa: E402
    OperationCountError,
    count_operations,
    default_shape,
    main,
    parse_shape,
)
from recognition.model_config import MODELS_DIR  # noqa: E402


def weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def one_node_model(node, input_shape, initializers, output_shape=None) -> onnx.ModelProto:
    """A graph of a single operator on input `x`, its output `y` left for inference."""
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)],
        initializer=initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_plain_convolution_counts_every_output_times_its_window():
    # 1x3x8x10 -> 4 channels, 3x3, padded: 4 x 8 x 10 outputs, each 3 x 3 x 3 MACs.
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1] * 4)
    model = one_node_model(node, (1, 3, 8, 10), [weight("w", 4, 3, 3, 3), weight("b", 4)])
    count = count_operations(model)
    assert count.macs == 4 * 8 * 10 * 27 == 8640
    assert count.parameters == 4 * 27 + 4
    assert count.operators["Conv"].nodes == 1


def test_a_grouped_convolution_sums_over_its_group_only():
    # 8 channels in 4 groups of 2, stride 2: 8 x 3 x 3 outputs, each 2 x 3 x 3 MACs.
    node = helper.make_node(
        "Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1] * 4, strides=[2, 2], group=4
    )
    model = one_node_model(node, (1, 8, 6, 6), [weight("w", 8, 2, 3, 3)])
    assert count_operations(model).macs == 8 * 3 * 3 * 18 == 1296


def test_a_depthwise_convolution_is_one_window_per_output():
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1] * 4, group=8)
    model = one_node_model(node, (1, 8, 6, 6), [weight("w", 8, 1, 3, 3)])
    count = count_operations(model)
    assert count.macs == 8 * 6 * 6 * 9 == 2592
    assert count.parameters == 72


def test_a_one_dimensional_convolution_batch_scales_the_count():
    # The reader's sequence layers: Conv over (N, C, T); N = 2 doubles every MAC.
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3], pads=[2, 2], dilations=[2])
    model = one_node_model(node, ("n", 6, 16), [weight("w", 5, 6, 3)])
    assert count_operations(model, (2, 6, 16)).macs == 2 * 5 * 16 * 18


def test_a_transposed_convolution_spreads_each_input_over_its_kernel():
    # 4 input channels, 3x3, to 2 channels at stride 2: each of the 36 inputs feeds 2 x 2 x 2.
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    model = one_node_model(node, (1, 4, 3, 3), [weight("w", 4, 2, 2, 2)])
    count = count_operations(model)
    # The same count from the output side: 2 x 6 x 6 values, each from 4 channels x 1 tap.
    assert count.macs == 36 * 8 == 2 * 6 * 6 * 4 == 288


def test_gemm_counts_m_times_n_times_k_whatever_the_transposes():
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)
    model = one_node_model(node, (2, 5), [weight("w", 3, 5), weight("b", 3)])
    count = count_operations(model)
    assert count.macs == 2 * 3 * 5 == 30
    assert count.parameters == 18
    node = helper.make_node("Gemm", ["x", "w"], ["y"], transA=1)
    model = one_node_model(node, (5, 2), [weight("w", 5, 3)])
    assert count_operations(model).macs == 30


def test_batched_matmul_counts_every_batch():
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    model = one_node_model(node, (2, 4, 5), [weight("w", 5, 6)])
    assert count_operations(model).macs == 2 * 4 * 6 * 5 == 240


def test_shapes_inference_cannot_follow_are_read_off_one_run():
    """Reader 3.0's fold slices the feature map at half its computed height: shape
    inference leaves what follows unknown, so one run on zeros supplies the shapes."""
    constants = {"two": 2, "half": 2, "zero": [0], "start": [0], "axis": [2]}
    initializers = [weight("w", 2, 4, 3, 3)] + [
        numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in constants.items()
    ]
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "two"], ["height"], axis=0),
        helper.make_node("Div", ["height", "half"], ["middle"]),
        helper.make_node("Unsqueeze", ["middle", "zero"], ["end"]),
        helper.make_node("Slice", ["x", "start", "end", "axis"], ["top"]),
        helper.make_node("Conv", ["top", "w"], ["y"], pads=[1] * 4),
    ]
    graph = helper.make_graph(
        nodes,
        "fold",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert count_operations(model).macs == 2 * 4 * 9 * (4 * 8), "the top half's 4 x 8 outputs"


def test_elementwise_and_pooling_are_other_operations_not_macs():
    pool = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1] * 4)
    count = count_operations(one_node_model(pool, (1, 2, 4, 4), []))
    assert (count.macs, count.other_ops) == (0, 2 * 4 * 4 * 9)
    relu = helper.make_node("Relu", ["x"], ["y"])
    count = count_operations(one_node_model(relu, (1, 2, 4, 4), []))
    assert (count.macs, count.other_ops) == (0, 32)


def test_free_dimensions_need_a_shape_and_fixed_ones_must_match():
    node = helper.make_node("Relu", ["x"], ["y"])
    model = one_node_model(node, ("n", 3, "height", "width"), [])
    with pytest.raises(OperationCountError, match="'height'.*is free"):
        count_operations(model)
    assert count_operations(model, (1, 3, 4, 5)).input_shape == (1, 3, 4, 5)
    with pytest.raises(OperationCountError, match="fixed at 3, not 1"):
        count_operations(model, (1, 1, 4, 5))
    with pytest.raises(OperationCountError, match="4 dimensions"):
        count_operations(model, (1, 3, 4))
    # The caller's model is left as it was.
    assert model.graph.input[0].type.tensor_type.shape.dim[2].dim_param == "height"


def test_shapes_are_parsed_strictly():
    assert parse_shape("1x3x384x640") == (1, 3, 384, 640)
    for text in ("1x3x0x640", "1 by 3", ""):
        with pytest.raises(OperationCountError):
            parse_shape(text)


def shipped(name: str) -> onnx.ModelProto:
    return onnx.load(str(MODELS_DIR / name))


def initializer_elements(model: onnx.ModelProto) -> int:
    return sum(math.prod(t.dims) for t in model.graph.initializer)


def test_the_shipped_detector_at_the_agents_canvas():
    model = shipped("plate_detector.onnx")
    shape = default_shape(MODELS_DIR / "plate_detector.onnx", model)
    assert shape == (1, 3, 384, 640)  # plate_detector.toml: a 1280x720 frame, padded to 384
    count = count_operations(model, shape)
    # By hand, from two layers (stride 2 stem, 3x3 32 -> 32 head at stride 4):
    stem = 16 * (384 // 2) * (640 // 2) * 3 * 9
    head = 32 * (384 // 4) * (640 // 4) * 32 * 9
    assert (stem, head) == (26_542_080, 141_557_760)
    # The other 25 layers are depthwise 3x3 and 1x1 convolutions of 16-128 channels at
    # strides 4-16: the largest 1x1 (128 -> 128 at stride 16) is 15.7 M, so together they
    # add about as much again as these two, not several times it.
    assert stem + head < count.macs < 3 * (stem + head)
    assert count.parameters == initializer_elements(model)  # 0.10 M, as the card says
    assert set(count.operators) >= {"Conv", "Resize", "MaxPool"}
    # Fully convolutional with strides that divide the canvas: twice the side, four times
    # the MACs, to the MAC.
    assert count_operations(model, (1, 3, 768, 1280)).macs == 4 * count.macs


def test_the_shipped_reader_per_plate():
    model = shipped("plate_reader.onnx")
    shape = default_shape(MODELS_DIR / "plate_reader.onnx", model)
    assert shape == (1, 3, 32, 128)
    count = count_operations(model, shape)
    first = 30 * 32 * 128 * 3 * 9  # the first 3x3 convolution, full resolution
    assert first == 3_317_760
    assert 10 * first < count.macs < 50 * first
    assert count.operators["Gemm"].macs > 0  # the country head
    assert count.parameters == initializer_elements(model)
    # Plates are read in one batch: N plates cost N times one.
    assert count_operations(model, (4, 3, 32, 128)).macs == 4 * count.macs


def test_the_command_prints_a_table(capsys):
    assert main([str(MODELS_DIR / "plate_reader.onnx"), "--shape", "2x3x32x128"]) == 0
    out = capsys.readouterr().out
    assert "plate_reader.onnx at 2x3x32x128" in out
    assert out.splitlines()[2].startswith("Conv")  # largest MAC share first
    assert main([str(MODELS_DIR / "plate_detector.onnx"), "--shape", "1x1x384x640"]) == 2
    assert "fixed at 3, not 1" in capsys.readouterr().err
