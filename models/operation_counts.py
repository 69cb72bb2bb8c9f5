"""Multiply-accumulates (MACs) and parameters of an ONNX model, per operator type.

Why: issue #19 asks what a frame costs on a Raspberry Pi 5 or a Jetson, and no such machine
is at hand. A network's arithmetic does not depend on the machine: counted once here, it is
divided by a machine's effective rate (MACs per second, measured here and scaled by published
figures for the other machines) to give an estimate. The model cards state those estimates
and how they were made (`models/plate_detector.md`, "Latency").

What is counted, at one concrete input shape (the detector's file leaves height and width
free, so the count needs the agent's canvas):

- **MACs** of the operators that carry nearly all the arithmetic: `Conv` (grouped and
  depthwise included: each output value sums over `in_channels / group` times the kernel),
  `ConvTranspose` (each input value is spread over `out_channels / group` times the
  kernel), `Gemm` and `MatMul` (`M x N x K`, times any batch dimensions). Bias additions are
  not MACs and are left out, as the usual counters (fvcore, thop, ptflops) do.
- **Other operations**, reported apart and only roughly: one per output value of an
  elementwise operator, `Resize`, `Softmax` or `Concat`, one per input value of a reduction,
  and one per window element of a pooling operator. On a CPU these are memory-bound, so a
  MAC-based estimate leaves them out and says so.
- **Parameters**: the elements of the initializers (and `Constant` tensors) an operator reads,
  counted once per tensor.

`onnx` is in the `train` and `dev` extras, not the unit's runtime: this module is for the
model cards, benchmarks and tests and is never imported by the agent or the recognizer.

    python -m models.operation_counts models/plate_detector.onnx [--shape 1x3x384x640]
    python -m models.operation_counts models/*.onnx --time 300   # and ms per run here
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper, shape_inference

# The operators whose arithmetic is multiply-accumulates (counted exactly).
MAC_OPERATORS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
# Operators that only move or describe data: no arithmetic worth a count.
SHAPE_OPERATORS = frozenset(
    {
        "Constant",
        "Shape",
        "Gather",
        "Unsqueeze",
        "Squeeze",
        "Reshape",
        "Flatten",
        "Transpose",
        "Slice",
        "Cast",
        "Identity",
        "ConstantOfShape",
        "Expand",
        "Split",
        "Pad",
    }
)
POOLING_OPERATORS = frozenset({"MaxPool", "AveragePool", "LpPool"})
REDUCTION_OPERATORS = frozenset(
    {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "GlobalAveragePool", "GlobalMaxPool"}
)


class OperationCountError(ValueError):
    """The model cannot be counted as asked: a shape is unknown, or the input shape does not fit."""


@dataclass
class OperatorCount:
    """What one operator type of a graph adds up to."""

    op_type: str
    nodes: int = 0
    macs: int = 0
    other_ops: int = 0
    parameters: int = 0


@dataclass
class ModelCount:
    """The counts of a whole model at one input shape, per operator type (in graph order)."""

    input_shape: tuple[int, ...]
    operators: dict[str, OperatorCount] = field(default_factory=dict)
    parameters: int = 0

    @property
    def macs(self) -> int:
        return sum(count.macs for count in self.operators.values())

    @property
    def other_ops(self) -> int:
        return sum(count.other_ops for count in self.operators.values())


def parse_shape(text: str) -> tuple[int, ...]:
    """`1x3x384x640` -> (1, 3, 384, 640); refuses anything but positive whole numbers."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise OperationCountError(f"shape {text!r}: expected numbers joined by x") from None
    if not shape or any(size <= 0 for size in shape):
        raise OperationCountError(f"shape {text!r}: every size must be positive")
    return shape


def fix_input_shape(model: onnx.ModelProto, shape: Sequence[int] | None) -> tuple[int, ...]:
    """Give the model's first input a concrete shape (in place) and return it.

    Without `shape`, a free dimension is taken as 1 only when it is the first (the batch);
    a free height or width must be given, because the count depends on it.
    """
    inputs = [i for i in model.graph.input if i.name not in _initializer_names(model)]
    if not inputs:
        raise OperationCountError("the model has no graph input")
    dims = inputs[0].type.tensor_type.shape.dim
    if shape is not None and len(shape) != len(dims):
        raise OperationCountError(
            f"input {inputs[0].name!r} has {len(dims)} dimensions, the shape given {len(shape)}"
        )
    fixed = []
    for index, dim in enumerate(dims):
        declared = dim.dim_value if dim.HasField("dim_value") else None
        if shape is not None:
            size = int(shape[index])
            if declared is not None and declared != size:
                raise OperationCountError(
                    f"input {inputs[0].name!r}: dimension {index} is fixed at {declared}, "
                    f"not {size}"
                )
        elif declared is not None:
            size = declared
        elif index == 0:
            size = 1
        else:
            raise OperationCountError(
                f"input {inputs[0].name!r}: dimension {index} ({dim.dim_param!r}) is free; "
                "give --shape"
            )
        dim.Clear()
        dim.dim_value = size
        fixed.append(size)
    return tuple(fixed)


def count_operations(model: onnx.ModelProto, shape: Sequence[int] | None = None) -> ModelCount:
    """Count MACs, other operations and parameters of `model` at input `shape` (a copy is
    shape-inferred; `model` itself is left as it was)."""
    work = onnx.ModelProto()
    work.CopyFrom(model)
    input_shape = fix_input_shape(work, shape)
    try:
        # data_prop carries the Shape -> Gather -> Concat arithmetic of the detector's
        # upsampling into concrete Resize sizes.
        inferred = shape_inference.infer_shapes(work, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as error:
        raise OperationCountError(f"shape inference failed: {error}") from None
    shapes = _tensor_shapes(inferred)
    if any(shape is None for shape in shapes.values()):
        shapes.update(_runtime_shapes(work, input_shape, shapes))
    sizes = _parameter_sizes(inferred)
    result = ModelCount(input_shape=input_shape)
    counted: set[str] = set()
    for node in inferred.graph.node:
        count = result.operators.setdefault(node.op_type, OperatorCount(node.op_type))
        count.nodes += 1
        if node.op_type == "Constant":
            continue  # its tensor is counted where an operator reads it
        for name in node.input:
            if name in sizes and name not in counted:
                counted.add(name)
                count.parameters += sizes[name]
        if node.op_type in MAC_OPERATORS:
            count.macs += _macs(node, shapes)
        elif node.op_type not in SHAPE_OPERATORS:
            count.other_ops += _other_ops(node, shapes)
    result.parameters = sum(c.parameters for c in result.operators.values())
    return result


def _initializer_names(model: onnx.ModelProto) -> set[str]:
    return {t.name for t in model.graph.initializer}


def _tensor_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...] | None]:
    """Every tensor's shape after inference; None where any dimension is still unknown."""
    shapes: dict[str, tuple[int, ...] | None] = {}
    values = list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output)
    for value in values:
        dims = value.type.tensor_type.shape.dim
        known = all(d.HasField("dim_value") for d in dims)
        shapes[value.name] = tuple(d.dim_value for d in dims) if known else None
    for tensor in model.graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    shapes[node.output[0]] = tuple(attribute.t.dims)
    return shapes


def _runtime_shapes(
    model: onnx.ModelProto, input_shape: Sequence[int], shapes: dict[str, tuple[int, ...] | None]
) -> dict[str, tuple[int, ...]]:
    """The shapes inference left unknown, read off one run of the network on zeros.

    Inference cannot follow every graph: reader 3.0's fold concatenates slices whose sizes
    come from arithmetic on shapes. Running the graph once gives every tensor's true shape
    at this input; onnxruntime is the product's runtime, so it is always installed."""
    import onnxruntime

    unknown = [name for name, shape in shapes.items() if shape is None]
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known_outputs = {output.name for output in probe.graph.output}
    probe.graph.output.extend(
        onnx.ValueInfoProto(name=n) for n in unknown if n not in known_outputs
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feed = {session.get_inputs()[0].name: np.zeros(input_shape, dtype=np.float32)}
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, feed)
    return {name: tuple(value.shape) for name, value in zip(names, values, strict=True)}


def _parameter_sizes(model: onnx.ModelProto) -> dict[str, int]:
    """Elements of each floating-point weight tensor (initializers and `Constant` tensors).

    Integer constants (shapes, indices, axes) are not parameters."""
    named = [(t.name, t) for t in model.graph.initializer] + [
        (node.output[0], attribute.t)
        for node in model.graph.node
        if node.op_type == "Constant"
        for attribute in node.attribute
        if attribute.name == "value"
    ]
    return {
        name: math.prod(tensor.dims)
        for name, tensor in named
        if numpy_helper.to_array(tensor).dtype.kind == "f"
    }


def _shape(shapes: dict[str, tuple[int, ...] | None], name: str, node: onnx.NodeProto):
    shape = shapes.get(name)
    if shape is None:
        raise OperationCountError(
            f"{node.op_type} {node.name or node.output[0]!r}: the shape of {name!r} is unknown "
            "at this input shape"
        )
    return shape


def _attribute(node: onnx.NodeProto, name: str, default):
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _macs(node: onnx.NodeProto, shapes) -> int:
    op = node.op_type
    if op == "Conv":
        weight = _shape(shapes, node.input[1], node)  # (C_out, C_in / group, k...)
        output = _shape(shapes, node.output[0], node)  # (N, C_out, spatial...)
        # Each output value: C_in / group input channels times the kernel's elements.
        return math.prod(output) * math.prod(weight[1:])
    if op == "ConvTranspose":
        weight = _shape(shapes, node.input[1], node)  # (C_in, C_out / group, k...)
        source = _shape(shapes, node.input[0], node)  # (N, C_in, spatial...)
        # Each input value is multiplied into C_out / group channels times the kernel.
        return math.prod(source) * math.prod(weight[1:])
    if op == "Gemm":
        a = _shape(shapes, node.input[0], node)
        output = _shape(shapes, node.output[0], node)  # (M, N)
        k = a[0] if _attribute(node, "transA", 0) else a[1]
        return math.prod(output) * k
    # MatMul, numpy semantics: a 1-D operand is a vector; batch dimensions broadcast.
    a = _shape(shapes, node.input[0], node)
    output = _shape(shapes, node.output[0], node)
    return math.prod(output) * a[-1]


def _other_ops(node: onnx.NodeProto, shapes) -> int:
    """A rough count of non-MAC arithmetic: see the module's docstring."""
    op = node.op_type
    if op in REDUCTION_OPERATORS:
        return math.prod(_shape(shapes, node.input[0], node))
    output = math.prod(_shape(shapes, node.output[0], node))
    if op in POOLING_OPERATORS:
        return output * math.prod(_attribute(node, "kernel_shape", [1]))
    return output


def default_shape(path: Path, model: onnx.ModelProto) -> tuple[int, ...] | None:
    """The input a shipped model is run at, from the config file beside it: N = 1 and the
    configured height and width (`plate_detector.toml`: the 384 x 640 canvas a 1280x720
    frame is drawn on, padded from 360 rows; `plate_reader.toml`: 32 x 128 per plate).
    None when there is no such file."""
    config = path.with_suffix(".toml")
    if not config.exists():
        return None
    with config.open("rb") as handle:
        values = tomllib.load(handle)
    if "input_height" not in values or "input_width" not in values:
        return None
    dims = model.graph.input[0].type.tensor_type.shape.dim
    channels = dims[1].dim_value if len(dims) == 4 and dims[1].HasField("dim_value") else 3
    return (1, channels, int(values["input_height"]), int(values["input_width"]))


def format_table(path: Path, count: ModelCount) -> str:
    """The counts as a plain-text table, largest MAC share first."""
    shape = "x".join(str(s) for s in count.input_shape)
    lines = [
        f"{path.name} at {shape}",
        f"{'operator':<16}{'nodes':>6}{'MACs':>15}{'share':>8}{'other ops':>13}{'params':>10}",
    ]
    total = count.macs or 1
    rows = sorted(count.operators.values(), key=lambda c: (-c.macs, -c.other_ops, c.op_type))
    for row in rows:
        if not (row.macs or row.other_ops or row.parameters):
            continue
        lines.append(
            f"{row.op_type:<16}{row.nodes:>6}{row.macs:>15,}{row.macs / total:>8.1%}"
            f"{row.other_ops:>13,}{row.parameters:>10,}"
        )
    lines.append(
        f"{'total':<16}{sum(c.nodes for c in count.operators.values()):>6}{count.macs:>15,}"
        f"{'':>8}{count.other_ops:>13,}{count.parameters:>10,}"
    )
    lines.append(
        f"{count.macs / 1e6:.1f} M MACs ({2 * count.macs / 1e9:.3f} GFLOP), "
        f"{count.other_ops / 1e6:.2f} M other ops, {count.parameters / 1e6:.3f} M parameters"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Timing:
    """Milliseconds per run of the network alone (onnxruntime, CPU, one thread)."""

    runs: int
    median_ms: float
    fastest_ms: float


def time_network(path: Path, shape: Sequence[int], runs: int) -> Timing:
    """Time `runs` runs of the network on a grey input of `shape`, one CPU thread, as the
    agent runs it (`recognition/onnx_runtime.py`), after a few unmeasured warm-up runs.

    Why both figures: on a shared machine the median carries the neighbours' load; the
    fastest run is the closest this machine gets to its unloaded rate."""
    import onnxruntime as ort  # the unit's runtime; imported here so counting needs only onnx

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.full(tuple(shape), 0.45, dtype=np.float32)}
    for _ in range(5):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - started)
    return Timing(runs, 1000 * statistics.median(times), 1000 * min(times))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.operation_counts",
        description="MACs and parameters of an ONNX model per operator type, at one input shape.",
    )
    parser.add_argument("model", type=Path, nargs="+", help="ONNX files")
    parser.add_argument(
        "--shape",
        type=parse_shape,
        help="input shape, e.g. 1x3x384x640 (default: N=1 and the height and width of the "
        "config file beside the model)",
    )
    parser.add_argument(
        "--time",
        type=int,
        metavar="RUNS",
        default=0,
        help="also time RUNS runs of the network on one CPU thread (onnxruntime) and print "
        "this machine's effective GMAC/s",
    )
    args = parser.parse_args(argv)
    for index, path in enumerate(args.model):
        try:
            model = onnx.load(str(path))
        except (OSError, DecodeError) as error:
            print(f"{path}: cannot read: {error}", file=sys.stderr)
            return 2
        try:
            shape = args.shape or default_shape(path, model)
            count = count_operations(model, shape)
        except OperationCountError as error:
            print(f"{path}: {error}", file=sys.stderr)
            return 2
        if index:
            print()
        print(format_table(path, count))
        if args.time > 0:
            timing = time_network(path, count.input_shape, args.time)
            print(
                f"one CPU thread, {timing.runs} runs: median {timing.median_ms:.2f} ms "
                f"({count.macs / timing.median_ms / 1e6:.1f} GMAC/s), fastest "
                f"{timing.fastest_ms:.2f} ms ({count.macs / timing.fastest_ms / 1e6:.1f} GMAC/s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "ModelCount",
    "OperationCountError",
    "OperatorCount",
    "count_operations",
    "fix_input_shape",
    "parse_shape",
    "time_network",
]
