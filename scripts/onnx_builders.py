"""Building blocks for scripts/make_models.py: ONNX graphs, config.pbtxt text, writing model folders."""

import os
import shutil

import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "models")
FIXTURES = os.path.join(ROOT, "packages", "server", "test", "fixtures", "models")
BENCH = os.path.join(ROOT, "bench", "models")

IR_VERSION = 8
OPSET = 13

# Config datatype -> ONNX element type (Triton's onnxruntime backend mapping).
ONNX_TYPES = {
    "TYPE_BOOL": TensorProto.BOOL,
    "TYPE_UINT8": TensorProto.UINT8,
    "TYPE_UINT16": TensorProto.UINT16,
    "TYPE_UINT32": TensorProto.UINT32,
    "TYPE_UINT64": TensorProto.UINT64,
    "TYPE_INT8": TensorProto.INT8,
    "TYPE_INT16": TensorProto.INT16,
    "TYPE_INT32": TensorProto.INT32,
    "TYPE_INT64": TensorProto.INT64,
    "TYPE_FP16": TensorProto.FLOAT16,
    "TYPE_BF16": TensorProto.BFLOAT16,
    "TYPE_FP32": TensorProto.FLOAT,
    "TYPE_FP64": TensorProto.DOUBLE,
    "TYPE_STRING": TensorProto.STRING,
}

# Fixture name suffix (wire datatype, lower case) -> config datatype.
WIRE_TYPES = {
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "uint16": "TYPE_UINT16",
    "uint32": "TYPE_UINT32",
    "uint64": "TYPE_UINT64",
    "int8": "TYPE_INT8",
    "int16": "TYPE_INT16",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "fp16": "TYPE_FP16",
    "bf16": "TYPE_BF16",
    "fp32": "TYPE_FP32",
    "fp64": "TYPE_FP64",
    "bytes": "TYPE_STRING",
}


# ---------------------------------------------------------------------------------------------
# Writing


def tensor(name, config_type, shape):
    """A graph input/output; a str in `shape` is a symbolic dim, None an unknown one."""
    return helper.make_tensor_value_info(name, ONNX_TYPES[config_type], shape)


def make_model(name, nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(
        graph,
        producer_name="nereid-make-models",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def reset_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def write_model(repo, name, model, config=None):
    """Writes <repo>/<name>/1/model.onnx and, when given, <repo>/<name>/config.pbtxt."""
    model_dir = os.path.join(repo, name)
    reset_dir(os.path.join(model_dir, "1"))
    onnx.save(model, os.path.join(model_dir, "1", "model.onnx"))
    write_config(model_dir, config)


def write_config(model_dir, config):
    path = os.path.join(model_dir, "config.pbtxt")
    if config is None:
        if os.path.exists(path):
            os.remove(path)
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(config)


def io_block(kind, entries):
    """`input [...]` / `output [...]` in Triton's example style.

    Entries are (name, type, dims) or (name, type, dims, optional): `optional: true` is written only
    when asked for.
    """
    blocks = []
    for entry in entries:
        name, config_type, dims = entry[:3]
        optional = len(entry) > 3 and entry[3]
        blocks.append(
            "  {\n"
            f'    name: "{name}"\n'
            f"    data_type: {config_type}\n"
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n"
            + ("    optional: true\n" if optional else "")
            + "  }"
        )
    return f"{kind} [\n" + ",\n".join(blocks) + "\n]\n"


def config_text(name, max_batch_size, inputs, outputs, comment="", extra=""):
    head = "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines())
    return (
        head
        + f'name: "{name}"\n'
        + 'platform: "onnxruntime_onnx"\n'
        + f"max_batch_size: {max_batch_size}\n"
        + io_block("input", inputs)
        + io_block("output", outputs)
        + extra
    )
