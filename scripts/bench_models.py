"""The models only the benchmarks serve, in bench/models/ (see scripts/make_models.py).

- `mlp`: an FP32 MLP whose cost per inference falls as batches grow (bench:batching, bench:ensemble).
- `cnn`: an FP32 CNN costing the same per image at any batch size: compute-bound (bench:batching).
- `seq_mlp`: a stateful MLP with implicit state, for the sequence batcher (bench:sequence).
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_builders import BENCH, config_text, make_model, tensor, write_model


MLP_WIDTH = 1024
MLP_HIDDEN_REPEAT = 16
# He-scaled normals shrink a ReLU activation by ~3.4 % per application of the same 1024x1024 weight
# (measured on the bench's input); this gain keeps its norm about constant over the 16 applications,
# away from both overflow and denormals (which would slow the MatMuls down).
MLP_HIDDEN_GAIN = 1.035


def mlp_weights(seed, width):
    """W_in [256, width], W_hidden [width, width], W_out [width, 10]: He-scaled normals (the hidden one
    with MLP_HIDDEN_GAIN) from a fixed legacy RandomState seed (a frozen stream), FP32."""
    rng = np.random.RandomState(seed)
    w_in = rng.standard_normal((256, width)) * np.sqrt(2.0 / 256)
    w_hidden = rng.standard_normal((width, width)) * (np.sqrt(2.0 / width) * MLP_HIDDEN_GAIN)
    w_out = rng.standard_normal((width, 10)) * np.sqrt(2.0 / width)
    return [
        numpy_helper.from_array(values.astype(np.float32), name)
        for name, values in (("W_in", w_in), ("W_hidden", w_hidden), ("W_out", w_out))
    ]


def mlp():
    """FP32 MLP: 256 -> 1024, then one 1024x1024 layer applied 16 times, -> 10 (MatMul + ReLU, no biases).

    ~34 MFLOP per row over 5.3 MB of weights (the hidden weight is shared by its 16 applications, so
    the model stays small while each inference costs about a millisecond at batch 1). At batch 1 every
    MatMul streams its weight for one row; at batch 16-64 the same weights serve many rows and the
    cost per inference falls ~4-5x: a compute-bound model for the dynamic batching benchmark.
    Weights are He-scaled normals from a fixed legacy RandomState seed (a frozen stream): deterministic.
    """
    weights = mlp_weights(9, MLP_WIDTH)
    nodes = [helper.make_node("MatMul", ["INPUT0", "W_in"], ["M0"]), helper.make_node("Relu", ["M0"], ["H0"])]
    for i in range(1, MLP_HIDDEN_REPEAT + 1):
        nodes.append(helper.make_node("MatMul", [f"H{i - 1}", "W_hidden"], [f"M{i}"]))
        nodes.append(helper.make_node("Relu", [f"M{i}"], [f"H{i}"]))
    nodes.append(helper.make_node("MatMul", [f"H{MLP_HIDDEN_REPEAT}", "W_out"], ["OUTPUT0"]))
    model = make_model(
        "mlp",
        nodes,
        [tensor("INPUT0", "TYPE_FP32", ["batch", 256])],
        [tensor("OUTPUT0", "TYPE_FP32", ["batch", 10])],
        weights,
    )
    cfg = config_text(
        "mlp",
        64,
        [("INPUT0", "TYPE_FP32", [256])],
        [("OUTPUT0", "TYPE_FP32", [10])],
        "FP32 MLP 256 -> 1024 -> (1024x1024, 16 times) -> 10 with ReLU, deterministic weights: its cost\n"
        "per inference falls as batches grow (bench:batching). No dynamic_batching here: the benchmark adds it.",
    )
    return model, cfg


CNN_SIZE = 64
CNN_CHANNELS = (3, 64, 128, 128, 256)


def cnn():
    """FP32 CNN on a [3, 64, 64] image: four 3x3 convolutions with ReLU (3 -> 64 -> 128 -> 128 at
    64x64, a 2x2 max-pool, 128 -> 256 at 32x32), a global average pool and a 256 -> 10 MatMul.

    ~2.4 GFLOP per image over 2 MB of weights: its cost grows in proportion to the batch, so the
    server's per-request work is small beside the compute (a compute-bound model for the dynamic
    batching benchmark, where the MLP measures the server's overhead instead). He-scaled normals from a
    fixed legacy RandomState seed: deterministic.
    """
    rng = np.random.RandomState(11)
    weights = []
    nodes = []
    current = "INPUT0"
    for i, (cin, cout) in enumerate(zip(CNN_CHANNELS, CNN_CHANNELS[1:])):
        w = rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))
        weights.append(numpy_helper.from_array(w.astype(np.float32), f"W{i}"))
        weights.append(numpy_helper.from_array(np.zeros(cout, np.float32), f"B{i}"))
        nodes.append(helper.make_node("Conv", [current, f"W{i}", f"B{i}"], [f"C{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"C{i}"], [f"R{i}"]))
        current = f"R{i}"
        if i == 2:
            nodes.append(helper.make_node("MaxPool", [current], ["P"], kernel_shape=[2, 2], strides=[2, 2]))
            current = "P"
    w_out = rng.standard_normal((CNN_CHANNELS[-1], 10)) * np.sqrt(2.0 / CNN_CHANNELS[-1])
    weights.append(numpy_helper.from_array(w_out.astype(np.float32), "W_out"))
    nodes.append(helper.make_node("GlobalAveragePool", [current], ["G"]))
    nodes.append(helper.make_node("Flatten", ["G"], ["F"], axis=1))
    nodes.append(helper.make_node("MatMul", ["F", "W_out"], ["OUTPUT0"]))
    model = make_model(
        "cnn",
        nodes,
        [tensor("INPUT0", "TYPE_FP32", ["batch", 3, CNN_SIZE, CNN_SIZE])],
        [tensor("OUTPUT0", "TYPE_FP32", ["batch", 10])],
        weights,
    )
    cfg = config_text(
        "cnn",
        32,
        [("INPUT0", "TYPE_FP32", [3, CNN_SIZE, CNN_SIZE])],
        [("OUTPUT0", "TYPE_FP32", [10])],
        "FP32 CNN: 3x64x64 image -> four 3x3 convolutions with ReLU -> average pool -> 10 values,\n"
        "deterministic weights, ~2.4 GFLOP an image: compute-bound (bench:batching). No dynamic_batching\n"
        "here: the benchmark adds it.",
    )
    return model, cfg


SEQ_MLP_WIDTH = 512
SEQ_MLP_HIDDEN_REPEAT = 32
# Fraction of the previous state added to the first layer: the state stays bounded over any length.
SEQ_MLP_STATE_GAIN = 0.5


def seq_mlp():
    """A stateful FP32 MLP for the sequence batching benchmark, its state kept by implicit state.

    Per row: h = relu(INPUT0 @ W_in + 0.5 * prev), then h = relu(h @ W_hidden) 32 times (He-scaled
    512x512, gain as in `mlp`), OUTPUT0 = h @ W_out (10 values), STATE_OUT = READY ? h : STATE_IN,
    where prev = START ? 0 : STATE_IN. ~17 MFLOP per row over 1.5 MB of weights: a batch costs more
    with every row (so null rows of the direct strategy cost real time) while the cost per row falls
    as batches grow. Deterministic weights (legacy RandomState seed).
    """
    width = SEQ_MLP_WIDTH
    weights = mlp_weights(10, width)
    weights.append(numpy_helper.from_array(np.zeros([width], dtype=np.float32), "zeros"))
    weights.append(numpy_helper.from_array(np.array(SEQ_MLP_STATE_GAIN, dtype=np.float32), "state_gain"))
    nodes = [
        helper.make_node("Cast", ["START"], ["start_b"], to=TensorProto.BOOL),
        helper.make_node("Cast", ["READY"], ["ready_b"], to=TensorProto.BOOL),
        helper.make_node("Where", ["start_b", "zeros", "STATE_IN"], ["prev"]),
        helper.make_node("Mul", ["prev", "state_gain"], ["carried"]),
        helper.make_node("MatMul", ["INPUT0", "W_in"], ["X0"]),
        helper.make_node("Add", ["X0", "carried"], ["M0"]),
        helper.make_node("Relu", ["M0"], ["H0"]),
    ]
    for i in range(1, SEQ_MLP_HIDDEN_REPEAT + 1):
        nodes.append(helper.make_node("MatMul", [f"H{i - 1}", "W_hidden"], [f"M{i}"]))
        nodes.append(helper.make_node("Relu", [f"M{i}"], [f"H{i}"]))
    last = f"H{SEQ_MLP_HIDDEN_REPEAT}"
    nodes.append(helper.make_node("MatMul", [last, "W_out"], ["OUTPUT0"]))
    nodes.append(helper.make_node("Where", ["ready_b", last, "STATE_IN"], ["STATE_OUT"]))
    model = make_model(
        "seq_mlp",
        nodes,
        [
            tensor("INPUT0", "TYPE_FP32", ["batch", 256]),
            tensor("START", "TYPE_INT32", ["batch", 1]),
            tensor("READY", "TYPE_INT32", ["batch", 1]),
            tensor("STATE_IN", "TYPE_FP32", ["batch", width]),
        ],
        [tensor("OUTPUT0", "TYPE_FP32", ["batch", 10]), tensor("STATE_OUT", "TYPE_FP32", ["batch", width])],
        weights,
    )
    return model, SEQ_MLP_CONFIG


SEQ_MLP_CONFIG = f"""# Stateful FP32 MLP (256 -> 512 -> (512x512, 32 times) -> 10, state: the last hidden layer) for
# bench:sequence. Served as is it uses the direct strategy; the benchmark adds direct or oldest settings.
name: "seq_mlp"
platform: "onnxruntime_onnx"
max_batch_size: 16
input [ {{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 256 ] }} ]
output [ {{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 10 ] }} ]
instance_group [ {{ kind: KIND_CPU count: 2 }} ]
sequence_batching {{
  max_sequence_idle_microseconds: 5000000
  control_input [
    {{ name: "START" control [ {{ kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] }} ] }},
    {{ name: "READY" control [ {{ kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] }} ] }}
  ]
  state [
    {{
      input_name: "STATE_IN"
      output_name: "STATE_OUT"
      data_type: TYPE_FP32
      dims: [ {SEQ_MLP_WIDTH} ]
      initial_state {{ data_type: TYPE_FP32 dims: [ {SEQ_MLP_WIDTH} ] zero_data: true name: "zero" }}
    }}
  ]
}}
"""


def write_bench():
    model, cfg = mlp()
    write_model(BENCH, "mlp", model, cfg)
    model, cfg = cnn()
    write_model(BENCH, "cnn", model, cfg)
    model, cfg = seq_mlp()
    write_model(BENCH, "seq_mlp", model, cfg)


