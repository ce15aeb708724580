"""Builders of the test fixtures' models (packages/server/test/fixtures/models), used by make_models.py.

Each returns an onnx ModelProto (or writes into a repository); make_models.py decides where they go.
"""

import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

from onnx_builders import config_text, make_model, reset_dir, tensor, write_config


def scalar_batch():
    """Rank-1 [batch] tensors: auto-complete gives dims [1] with an empty reshape."""
    return make_model(
        "scalar_batch",
        [helper.make_node("Neg", ["INPUT0"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_FP32", ["batch"])],
        [tensor("OUTPUT0", "TYPE_FP32", ["batch"])],
    )


def scalar_rank0():
    """Rank-0 tensors: no batching possible; auto-complete gives dims [1] without reshape."""
    return make_model(
        "scalar_rank0",
        [helper.make_node("Neg", ["INPUT0"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_FP32", [])],
        [tensor("OUTPUT0", "TYPE_FP32", [])],
    )


def fixed_batch_dim():
    """A fixed first dim [2, 3]: batching is impossible."""
    return make_model(
        "fixed_batch_dim",
        [helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_FP32", [2, 3])],
        [tensor("OUTPUT0", "TYPE_FP32", [2, 3])],
    )


def runtime_error():
    """Reshapes INPUT0 to [-1, 3]: an element count not divisible by 3 fails inside onnxruntime."""
    shape = numpy_helper.from_array(np.array([-1, 3], dtype=np.int64), "shape")
    return make_model(
        "runtime_error",
        [helper.make_node("Reshape", ["INPUT0", "shape"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_FP32", ["batch", "n"])],
        [tensor("OUTPUT0", "TYPE_FP32", ["batch", 3])],
        [shape],
    )


SLOW_SIZE = 256
SLOW_STEPS = 64


def slow_identity():
    """OUTPUT0 = INPUT0, after a chain of matrix products that depends on the input.

    The chain (SLOW_STEPS products of SLOW_SIZE^2 matrices, ~20 ms on one thread) cannot be
    constant-folded because it starts from the input's sum; its result is multiplied by 0 and added,
    which leaves INPUT0 exact. An orthogonal weight keeps the values bounded (no inf/NaN).
    """
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.standard_normal((SLOW_SIZE, SLOW_SIZE)))
    weight = numpy_helper.from_array(q.astype(np.float32), "W")
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")
    tiny = numpy_helper.from_array(np.array(1e-30, dtype=np.float32), "tiny")
    nodes = [
        helper.make_node("ReduceSum", ["INPUT0"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "tiny"], ["scaled"]),
        helper.make_node("Add", ["W", "scaled"], ["m0"]),
    ]
    for step in range(SLOW_STEPS):
        nodes.append(helper.make_node("MatMul", [f"m{step}", "W"], [f"m{step + 1}"]))
    nodes += [
        helper.make_node("ReduceSum", [f"m{SLOW_STEPS}"], ["chain"], keepdims=0),
        helper.make_node("Mul", ["chain", "zero"], ["nothing"]),
        helper.make_node("Add", ["INPUT0", "nothing"], ["OUTPUT0"]),
    ]
    return make_model(
        "slow_identity",
        nodes,
        [tensor("INPUT0", "TYPE_FP32", ["batch", "n"])],
        [tensor("OUTPUT0", "TYPE_FP32", ["batch", "n"])],
        [weight, zero, tiny],
    )


def external_data(repo):
    """`1/model.onnx/` as a folder: model.onnx plus its weights in an external data file.

    OUTPUT0 = INPUT0 @ W with W = 2 * identity(4), kept in `weights.bin` next to the graph.
    """
    weight = numpy_helper.from_array((2 * np.eye(4)).astype(np.float32), "W")
    model = make_model(
        "external_data",
        [helper.make_node("MatMul", ["INPUT0", "W"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_FP32", ["batch", 4])],
        [tensor("OUTPUT0", "TYPE_FP32", ["batch", 4])],
        [weight],
    )
    folder = os.path.join(repo, "external_data", "1", "model.onnx")
    reset_dir(folder)
    onnx.save_model(
        model,
        os.path.join(folder, "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    write_config(os.path.join(repo, "external_data"), None)


OPTIONAL_BIAS = [10.0, 20.0, 30.0]


def optional_initializer(name, batching=False):
    """OUTPUT0 = INPUT0 + BIAS, where BIAS is an initializer that is also a graph input.

    With IR version >= 4 onnxruntime reports such an initializer as an "overridable initializer": a
    run may feed BIAS (it replaces the stored value) or leave it out (OPTIONAL_BIAS is used). Nereid
    serves it as an optional input, which Triton allows only for models that do not batch: INPUT0 is
    [3] here, so auto-complete gives max_batch_size 0 and lists BIAS with `optional: true`. With
    `batching`, INPUT0 and OUTPUT0 are [batch, 3] (BIAS broadcasts over the rows) and auto-complete
    batches the model and leaves BIAS out.
    """
    shape = ["batch", 3] if batching else [3]
    bias = numpy_helper.from_array(np.array(OPTIONAL_BIAS, dtype=np.float32), "BIAS")
    return make_model(
        name,
        [helper.make_node("Add", ["INPUT0", "BIAS"], ["OUTPUT0"])],
        [tensor("INPUT0", "TYPE_FP32", shape), tensor("BIAS", "TYPE_FP32", [3])],
        [tensor("OUTPUT0", "TYPE_FP32", shape)],
        [bias],
    )


def optional_initializer_config():
    """`optional_initializer` with a config.pbtxt that lists BIAS as `optional: true`."""
    name = "optional_initializer_config"
    cfg = config_text(
        name,
        0,
        [("INPUT0", "TYPE_FP32", [3]), ("BIAS", "TYPE_FP32", [3], True)],
        [("OUTPUT0", "TYPE_FP32", [3])],
        "OUTPUT0 = INPUT0 + BIAS. BIAS is an overridable initializer ([10, 20, 30]): a request may\n"
        "leave it out, or send it to replace the stored value.",
    )
    return optional_initializer(name), cfg


def sequence_accumulator():
    """A stateful accumulator for the sequence batcher tests, its state kept by implicit state.

    Per row: STATE_OUT = READY ? (START ? INPUT : STATE_IN + INPUT) : STATE_IN, OUTPUT = STATE_OUT,
    CORRID_OUT = CORRID (as INT64), FLAGS = 100*START + 10*END + READY, so a test can check every
    value the server fed: the state, the correlation ID and the control tensors.
    """
    rows = ["batch", 1]
    nodes = [
        helper.make_node("Cast", ["START"], ["start_b"], to=onnx.TensorProto.BOOL),
        helper.make_node("Cast", ["READY"], ["ready_b"], to=onnx.TensorProto.BOOL),
        helper.make_node("Add", ["STATE_IN", "INPUT"], ["summed"]),
        helper.make_node("Where", ["start_b", "INPUT", "summed"], ["stepped"]),
        helper.make_node("Where", ["ready_b", "stepped", "STATE_IN"], ["STATE_OUT"]),
        helper.make_node("Identity", ["STATE_OUT"], ["OUTPUT"]),
        helper.make_node("Cast", ["CORRID"], ["CORRID_OUT"], to=onnx.TensorProto.INT64),
        helper.make_node("Mul", ["START", "hundred"], ["s100"]),
        helper.make_node("Mul", ["END", "ten"], ["e10"]),
        helper.make_node("Add", ["s100", "e10"], ["se"]),
        helper.make_node("Add", ["se", "READY"], ["FLAGS"]),
    ]
    constants = [
        numpy_helper.from_array(np.array(100, dtype=np.int32), "hundred"),
        numpy_helper.from_array(np.array(10, dtype=np.int32), "ten"),
    ]
    return make_model(
        "sequence_accumulator",
        nodes,
        [
            tensor("INPUT", "TYPE_INT32", rows),
            tensor("START", "TYPE_INT32", rows),
            tensor("END", "TYPE_INT32", rows),
            tensor("READY", "TYPE_INT32", rows),
            tensor("CORRID", "TYPE_UINT64", rows),
            tensor("STATE_IN", "TYPE_INT32", rows),
        ],
        [
            tensor("OUTPUT", "TYPE_INT32", rows),
            tensor("STATE_OUT", "TYPE_INT32", rows),
            tensor("CORRID_OUT", "TYPE_INT64", rows),
            tensor("FLAGS", "TYPE_INT32", rows),
        ],
        constants,
    )


SEQUENCE_ACCUMULATOR_CONFIG = """# Accumulates INPUT per sequence through implicit state; reports the controls it was fed.
name: "sequence_accumulator"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [
  { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "CORRID_OUT" data_type: TYPE_INT64 dims: [ 1 ] },
  { name: "FLAGS" data_type: TYPE_INT32 dims: [ 1 ] }
]
instance_group [ { kind: KIND_CPU count: 1 } ]
sequence_batching {
  max_sequence_idle_microseconds: 5000000
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "END" control [ { kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]
  state [
    {
      input_name: "STATE_IN"
      output_name: "STATE_OUT"
      data_type: TYPE_INT32
      dims: [ 1 ]
      initial_state { data_type: TYPE_INT32 dims: [ 1 ] zero_data: true name: "zero" }
    }
  ]
}
"""
