#!/usr/bin/python3
"""Writes Nereid's small ONNX models and their config.pbtxt files.

    /usr/bin/python3 scripts/make_models.py                 rewrite every committed model
    /usr/bin/python3 scripts/make_models.py --weights DIR   also write the 8 MB `weights` model into DIR

Needs only onnx (1.12 works) and numpy. Output is deterministic: running the script twice gives
byte-identical files, so `git status` after a run shows whether anything changed. Models use IR
version 8 and opset 13, which onnxruntime 1.30 loads.

examples/models/ is the example repository `npm start` serves (with Triton's example sequence models
from scripts/sequence_models.py, and the example ensembles with their members from
scripts/ensemble_models.py); packages/server/test/fixtures/models/
holds what the tests need (an identity per datatype, auto-complete corner cases, a slow model, ...);
bench/models/ holds what only the benchmarks serve (scripts/bench_models.py: an MLP whose cost per
inference falls as batches grow, a compute-bound CNN, and a stateful MLP for the sequence batcher).
The weight-heavy model is not committed: the tests build it in a temp dir, and --weights writes the
same model for manual memory measurements.
"""

import argparse
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_models import (  # noqa: E402
    external_data,
    fixed_batch_dim,
    optional_initializer,
    optional_initializer_config,
    runtime_error,
    scalar_batch,
    scalar_rank0,
    sequence_accumulator,
    SEQUENCE_ACCUMULATOR_CONFIG,
    slow_identity,
)
from onnx_builders import (  # noqa: E402
    EXAMPLES,
    FIXTURES,
    WIRE_TYPES,
    config_text,
    make_model,
    tensor,
    write_model,
)
from bench_models import write_bench  # noqa: E402
from ensemble_models import write_example_ensembles  # noqa: E402
from sequence_models import EXAMPLE_SEQUENCE_MODELS  # noqa: E402


# ---------------------------------------------------------------------------------------------
# examples/models


def simple():
    """Triton's `simple`: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1 (INT32 [16])."""
    shape = ["batch", 16]
    model = make_model(
        "simple",
        [
            helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
            helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"]),
        ],
        [tensor("INPUT0", "TYPE_INT32", shape), tensor("INPUT1", "TYPE_INT32", shape)],
        [tensor("OUTPUT0", "TYPE_INT32", shape), tensor("OUTPUT1", "TYPE_INT32", shape)],
    )
    io = [("INPUT0", "TYPE_INT32", [16]), ("INPUT1", "TYPE_INT32", [16])]
    out = [("OUTPUT0", "TYPE_INT32", [16]), ("OUTPUT1", "TYPE_INT32", [16])]
    return model, config_text("simple", 8, io, out)


def simple_string():
    """Triton's `simple_string`: numbers written as strings, added and subtracted.

    ONNX Cast parses strings into numbers and prints numbers as strings, so the model does the real
    thing: OUTPUT0 = str(int(INPUT0) + int(INPUT1)), OUTPUT1 = str(int(INPUT0) - int(INPUT1)).
    """
    shape = ["batch", 16]
    to_int = TensorProto.INT32
    to_str = TensorProto.STRING
    model = make_model(
        "simple_string",
        [
            helper.make_node("Cast", ["INPUT0"], ["a"], to=to_int),
            helper.make_node("Cast", ["INPUT1"], ["b"], to=to_int),
            helper.make_node("Add", ["a", "b"], ["sum"]),
            helper.make_node("Sub", ["a", "b"], ["diff"]),
            helper.make_node("Cast", ["sum"], ["OUTPUT0"], to=to_str),
            helper.make_node("Cast", ["diff"], ["OUTPUT1"], to=to_str),
        ],
        [tensor("INPUT0", "TYPE_STRING", shape), tensor("INPUT1", "TYPE_STRING", shape)],
        [tensor("OUTPUT0", "TYPE_STRING", shape), tensor("OUTPUT1", "TYPE_STRING", shape)],
    )
    io = [("INPUT0", "TYPE_STRING", [16]), ("INPUT1", "TYPE_STRING", [16])]
    out = [("OUTPUT0", "TYPE_STRING", [16]), ("OUTPUT1", "TYPE_STRING", [16])]
    comment = (
        "Inputs are decimal integers written as strings. The model parses them (ONNX Cast\n"
        "string->int32), adds and subtracts, and prints the results back as strings:\n"
        "OUTPUT0 = str(int(INPUT0) + int(INPUT1)), OUTPUT1 = str(int(INPUT0) - int(INPUT1)).\n"
        "An element that is not a number makes the inference fail."
    )
    return model, config_text("simple_string", 8, io, out, comment)


def simple_int8():
    """Triton's `simple_int8`: `simple` on INT8 (computed in INT32 and cast back, wrapping)."""
    shape = ["batch", 16]
    i32, i8 = TensorProto.INT32, TensorProto.INT8
    model = make_model(
        "simple_int8",
        [
            helper.make_node("Cast", ["INPUT0"], ["a"], to=i32),
            helper.make_node("Cast", ["INPUT1"], ["b"], to=i32),
            helper.make_node("Add", ["a", "b"], ["sum"]),
            helper.make_node("Sub", ["a", "b"], ["diff"]),
            helper.make_node("Cast", ["sum"], ["OUTPUT0"], to=i8),
            helper.make_node("Cast", ["diff"], ["OUTPUT1"], to=i8),
        ],
        [tensor("INPUT0", "TYPE_INT8", shape), tensor("INPUT1", "TYPE_INT8", shape)],
        [tensor("OUTPUT0", "TYPE_INT8", shape), tensor("OUTPUT1", "TYPE_INT8", shape)],
    )
    io = [("INPUT0", "TYPE_INT8", [16]), ("INPUT1", "TYPE_INT8", [16])]
    out = [("OUTPUT0", "TYPE_INT8", [16]), ("OUTPUT1", "TYPE_INT8", [16])]
    return model, config_text("simple_int8", 8, io, out)


def simple_identity():
    """Triton's `simple_identity` (its string examples use it): BYTES in, the same BYTES out."""
    shape = ["batch", "n"]
    model = make_model(
        "simple_identity",
        [helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_STRING", shape)],
        [tensor("OUTPUT0", "TYPE_STRING", shape)],
    )
    comment = "Returns its BYTES input unchanged; any bytes (NUL, non-UTF-8) round-trip exactly."
    cfg = config_text(
        "simple_identity",
        8,
        [("INPUT0", "TYPE_STRING", [-1])],
        [("OUTPUT0", "TYPE_STRING", [-1])],
        comment,
    )
    return model, cfg


def identity(name, config_type, batch_dims, comment=""):
    """Identity over [batch, n] (dims [-1]) with a config for max_batch_size 8."""
    shape = ["batch", "n"]
    model = make_model(
        name,
        [helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
        [tensor("INPUT0", config_type, shape)],
        [tensor("OUTPUT0", config_type, shape)],
    )
    cfg = config_text(
        name,
        8,
        [("INPUT0", config_type, batch_dims)],
        [("OUTPUT0", config_type, batch_dims)],
        comment,
    )
    return model, cfg


def identity_fp16():
    shape = ["batch", 4]
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float16), "two")
    model = make_model(
        "identity_fp16",
        [helper.make_node("Mul", ["INPUT0", "two"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_FP16", shape)],
        [tensor("OUTPUT0", "TYPE_FP16", shape)],
        [two],
    )
    cfg = config_text(
        "identity_fp16",
        8,
        [("INPUT0", "TYPE_FP16", [4])],
        [("OUTPUT0", "TYPE_FP16", [4])],
        "Half precision: OUTPUT0 = INPUT0 * 2, computed in fp16.",
    )
    return model, cfg


def add_sub(name):
    """FP32 [batch, 4] add/sub; written without config.pbtxt to show auto-complete."""
    shape = ["batch", 4]
    return make_model(
        name,
        [
            helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
            helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"]),
        ],
        [tensor("INPUT0", "TYPE_FP32", shape), tensor("INPUT1", "TYPE_FP32", shape)],
        [tensor("OUTPUT0", "TYPE_FP32", shape), tensor("OUTPUT1", "TYPE_FP32", shape)],
    )


def write_examples():
    for name, build in (
        ("simple", simple),
        ("simple_string", simple_string),
        ("simple_int8", simple_int8),
        ("simple_identity", simple_identity),
        ("identity_fp16", identity_fp16),
        *EXAMPLE_SEQUENCE_MODELS,
    ):
        model, cfg = build()
        write_model(EXAMPLES, name, model, cfg)
    model, cfg = identity(
        "identity_fp32", "TYPE_FP32", [-1], "Returns INPUT0 unchanged; any [batch, n] shape."
    )
    write_model(EXAMPLES, "identity_fp32", model, cfg)
    # No config.pbtxt on purpose: auto-complete fills inputs, outputs, max_batch_size 4 and
    # dynamic_batching from the model.
    write_model(EXAMPLES, "add_sub_no_config", add_sub("add_sub_no_config"), None)
    write_example_ensembles(EXAMPLES)


# ---------------------------------------------------------------------------------------------
# packages/server/test/fixtures/models


WEIGHT_ROWS = 1024
WEIGHT_COLS = 2048  # 1024 x 2048 fp32 = 8 MiB


def weights_model(megabytes=8):
    """OUTPUT0 = INPUT0 @ W with an 8 MiB (or larger) weight, to measure what sessions cost in memory."""
    cols = WEIGHT_COLS * megabytes // 8
    values = (np.arange(WEIGHT_ROWS * cols, dtype=np.float32) % 7) / 7
    weight = numpy_helper.from_array(values.reshape(WEIGHT_ROWS, cols), "W")
    return make_model(
        "weights",
        [helper.make_node("MatMul", ["INPUT0", "W"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_FP32", ["batch", WEIGHT_ROWS])],
        [tensor("OUTPUT0", "TYPE_FP32", ["batch", cols])],
        [weight],
    )


def write_fixtures():
    os.makedirs(FIXTURES, exist_ok=True)
    for suffix, config_type in WIRE_TYPES.items():
        name = f"identity_{suffix}"
        model, cfg = identity(name, config_type, [-1])
        write_model(FIXTURES, name, model, cfg)
    write_model(FIXTURES, "scalar_batch", scalar_batch())
    write_model(FIXTURES, "scalar_rank0", scalar_rank0())
    write_model(FIXTURES, "fixed_batch_dim", fixed_batch_dim())
    write_model(FIXTURES, "runtime_error", runtime_error())
    write_model(FIXTURES, "add_sub", add_sub("add_sub"))
    slow_cfg = config_text(
        "slow_identity",
        8,
        [("INPUT0", "TYPE_FP32", [-1])],
        [("OUTPUT0", "TYPE_FP32", [-1])],
        "Returns INPUT0 after ~20 ms of single-threaded work, to observe concurrency.",
        'parameters { key: "intra_op_thread_count" value { string_value: "1" } }\n',
    )
    write_model(FIXTURES, "slow_identity", slow_identity(), slow_cfg)
    # No config.pbtxt for these two: auto-complete decides what BIAS becomes.
    write_model(FIXTURES, "optional_initializer", optional_initializer("optional_initializer"))
    write_model(
        FIXTURES,
        "optional_initializer_batching",
        optional_initializer("optional_initializer_batching", batching=True),
    )
    model, cfg = optional_initializer_config()
    write_model(FIXTURES, "optional_initializer_config", model, cfg)
    write_model(FIXTURES, "sequence_accumulator", sequence_accumulator(), SEQUENCE_ACCUMULATOR_CONFIG)
    external_data(FIXTURES)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", metavar="DIR", help="also write the 8 MiB weights model here")
    parser.add_argument("--weights-mb", type=int, default=8, help="size of the weights model's weight (MiB, multiple of 8)")
    args = parser.parse_args(argv)
    write_examples()
    write_fixtures()
    write_bench()
    if args.weights:
        write_model(args.weights, "weights", weights_model(args.weights_mb), None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
