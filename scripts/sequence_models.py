"""Triton's example sequence models for examples/models, built as ONNX (see scripts/make_models.py).

Triton's Python and C++ sequence clients (simple_*_sequence_*_client) check these values:

- `simple_sequence` (Triton ships it as ONNX too): OUTPUT = READY * (INPUT + START). It keeps no
  state; the clients expect 1 for the first request of [0, 11, 7, ...] and then each input back.
- `simple_dyna_sequence` (ONNX in Triton as well): OUTPUT = READY * (INPUT + START + END * CORRID),
  so the last request of a sequence carries its correlation ID; oldest strategy, 2 instances.
- `simple_string_dyna_sequence` (in Triton's QA, the C++ `dyna_sequence` backend with a STRING
  CORRID): a running sum per sequence, set by START, with the correlation ID, parsed as an integer,
  added on END. Here the sum is implicit state the server keeps, so the ONNX graph stays stateless.
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_builders import make_model, tensor

ROWS = ["batch", 1]


def _bool(name):
    return helper.make_node("Cast", [name], [f"{name}_b"], to=TensorProto.BOOL)


def simple_sequence():
    model = make_model(
        "simple_sequence",
        [
            helper.make_node("Add", ["INPUT", "START"], ["started"]),
            helper.make_node("Mul", ["READY", "started"], ["OUTPUT"]),
        ],
        [tensor(name, "TYPE_INT32", ROWS) for name in ("INPUT", "START", "READY")],
        [tensor("OUTPUT", "TYPE_INT32", ROWS)],
    )
    return model, SIMPLE_SEQUENCE_CONFIG


def simple_dyna_sequence():
    model = make_model(
        "simple_dyna_sequence",
        [
            helper.make_node("Cast", ["CORRID"], ["corrid"], to=TensorProto.INT32),
            helper.make_node("Add", ["INPUT", "START"], ["started"]),
            helper.make_node("Mul", ["END", "corrid"], ["ended"]),
            helper.make_node("Add", ["started", "ended"], ["sum"]),
            helper.make_node("Mul", ["READY", "sum"], ["OUTPUT"]),
        ],
        [tensor(name, "TYPE_INT32", ROWS) for name in ("INPUT", "START", "END", "READY")]
        + [tensor("CORRID", "TYPE_UINT64", ROWS)],
        [tensor("OUTPUT", "TYPE_INT32", ROWS)],
    )
    return model, SIMPLE_DYNA_SEQUENCE_CONFIG


def simple_string_dyna_sequence():
    """Per row, with ACC the sequence's running sum (implicit state, 0 before its first request):

    READY=1: ACC = (START ? 0 : ACC) + INPUT, then + int(CORRID) when END; OUTPUT = ACC.
    READY=0 (a slot with no request): ACC unchanged.
    CORRID is read only on END rows (elsewhere it may be empty), as Triton's backend reads it with
    std::stoi; the int64 parse is truncated to int32 as Triton's `(int32_t)corrid`.
    """
    nodes = [
        _bool("START"),
        _bool("END"),
        _bool("READY"),
        helper.make_node("Where", ["START_b", "zero", "STATE_IN"], ["base"]),
        helper.make_node("Add", ["base", "INPUT"], ["stepped"]),
        helper.make_node("Where", ["END_b", "CORRID", "zero_text"], ["corrid_text"]),
        helper.make_node("Cast", ["corrid_text"], ["corrid64"], to=TensorProto.INT64),
        helper.make_node("Cast", ["corrid64"], ["corrid"], to=TensorProto.INT32),
        helper.make_node("Add", ["stepped", "corrid"], ["ended"]),
        helper.make_node("Where", ["READY_b", "ended", "STATE_IN"], ["STATE_OUT"]),
        helper.make_node("Identity", ["STATE_OUT"], ["OUTPUT"]),
    ]
    constants = [
        numpy_helper.from_array(np.array(0, dtype=np.int32), "zero"),
        numpy_helper.from_array(np.array([b"0"], dtype=object), "zero_text"),
    ]
    model = make_model(
        "simple_string_dyna_sequence",
        nodes,
        [tensor(name, "TYPE_INT32", ROWS) for name in ("INPUT", "START", "END", "READY")]
        + [tensor("CORRID", "TYPE_STRING", ROWS), tensor("STATE_IN", "TYPE_INT32", ROWS)],
        [tensor("OUTPUT", "TYPE_INT32", ROWS), tensor("STATE_OUT", "TYPE_INT32", ROWS)],
        constants,
    )
    return model, SIMPLE_STRING_DYNA_SEQUENCE_CONFIG


def _control(name, kind, value):
    return (
        "    {\n"
        f'      name: "{name}"\n'
        "      control [\n"
        "        {\n"
        f"          kind: {kind}\n"
        f"          {value}\n"
        "        }\n"
        "      ]\n"
        "    }"
    )


def _controls(corrid_type=None):
    flags = [("START", "CONTROL_SEQUENCE_START"), ("END", "CONTROL_SEQUENCE_END"), ("READY", "CONTROL_SEQUENCE_READY")]
    if corrid_type is None:
        flags = [flag for flag in flags if flag[0] != "END"]
    entries = [_control(name, kind, "int32_false_true: [ 0, 1 ]") for name, kind in flags]
    if corrid_type:
        entries.append(_control("CORRID", "CONTROL_SEQUENCE_CORRID", f"data_type: {corrid_type}"))
    return "  control_input [\n" + ",\n".join(entries) + "\n  ]\n"


IO = """input [
  {
    name: "INPUT"
    data_type: TYPE_INT32
    dims: [ 1 ]
  }
]
output [
  {
    name: "OUTPUT"
    data_type: TYPE_INT32
    dims: [ 1 ]
  }
]
"""

OLDEST = """  max_sequence_idle_microseconds: 10000000
  oldest {
    max_candidate_sequences: 1024
    max_queue_delay_microseconds: 10000
  }
"""

SIMPLE_SEQUENCE_CONFIG = (
    "# Triton's example sequence model: OUTPUT = READY * (INPUT + START), no state kept.\n"
    'name: "simple_sequence"\n'
    'platform: "onnxruntime_onnx"\n'
    "max_batch_size: 8\n"
    "sequence_batching {\n" + _controls() + "}\n" + IO + "instance_group [\n  {\n    kind: KIND_CPU\n  }\n]\n"
)

SIMPLE_DYNA_SEQUENCE_CONFIG = (
    "# Triton's example dynamic (oldest) sequence model:\n"
    "# OUTPUT = READY * (INPUT + START + END * CORRID): the last request of a sequence adds its ID.\n"
    'name: "simple_dyna_sequence"\n'
    'platform: "onnxruntime_onnx"\n'
    "max_batch_size: 8\n"
    "sequence_batching {\n" + OLDEST + _controls("TYPE_UINT64") + "}\n" + IO
    + "instance_group [\n  {\n    count: 2\n    kind: KIND_CPU\n  }\n]\n"
)

SIMPLE_STRING_DYNA_SEQUENCE_CONFIG = (
    "# Triton's QA `simple_string_dyna_sequence` (its dyna_sequence backend with a STRING correlation ID):\n"
    "# OUTPUT is the running sum of INPUT over the sequence (START restarts it), plus the ID read as an\n"
    "# integer on END. The sum is implicit state: the server feeds STATE_OUT back as STATE_IN.\n"
    "# An ID that is not a decimal integer fails its END request (and the batch it runs in).\n"
    'name: "simple_string_dyna_sequence"\n'
    'platform: "onnxruntime_onnx"\n'
    "max_batch_size: 8\n"
    "sequence_batching {\n" + OLDEST + _controls("TYPE_STRING")
    + """  state [
    {
      input_name: "STATE_IN"
      output_name: "STATE_OUT"
      data_type: TYPE_INT32
      dims: [ 1 ]
      initial_state {
        data_type: TYPE_INT32
        dims: [ 1 ]
        zero_data: true
        name: "zero"
      }
    }
  ]
}
"""
    + IO
    + "instance_group [\n  {\n    count: 2\n    kind: KIND_CPU\n  }\n]\n"
)

EXAMPLE_SEQUENCE_MODELS = (
    ("simple_sequence", simple_sequence),
    ("simple_dyna_sequence", simple_dyna_sequence),
    ("simple_string_dyna_sequence", simple_string_dyna_sequence),
)
