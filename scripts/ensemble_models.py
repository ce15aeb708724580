"""The example ensembles of examples/models and their member models (see scripts/make_models.py).

An image pipeline as a user would deploy it, on tiny [3, H, W] images (any H and W):

- `preprocess`: UINT8 IMAGE -> FP32 PIXELS, each channel scaled to [0, 1] and normalised with
  ImageNet's mean and standard deviation: PIXELS[c] = (IMAGE[c] / 255 - MEAN[c]) / STD[c].
- `classifier`: PIXELS -> SCORES [4], the softmax of a linear layer over the channel averages:
  SCORES = softmax(mean_hw(PIXELS) @ CLASSIFIER_W + CLASSIFIER_B).
- `segmenter`: PIXELS -> MASK [H, W] (UINT8), 1 where the pixel's channel average is above 0.
- `postprocess`: SCORES -> CLASS_ID [1] (INT32, the argmax) and CONFIDENCE [1] (the max score).
- `ensemble_pipeline`: IMAGE -> preprocess -> (classifier and segmenter at once) -> SCORES, MASK.
- `ensemble_nested`: IMAGE -> ensemble_pipeline -> postprocess -> CLASS_ID, CONFIDENCE, MASK: an
  ensemble with an ensemble as one of its steps.

The integration test (examples/ensemble-models.test.ts) recomputes every value from these constants.
"""

import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnx_builders import make_model, tensor, write_config, write_model

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
# Rows: the three channel averages; columns: the four classes.
CLASSIFIER_W = [
    [2.0, -1.0, 0.5, -0.5],
    [-1.0, 2.0, 0.5, -0.5],
    [-1.0, -1.0, 0.5, 2.0],
]
CLASSIFIER_B = [0.0, 0.0, 0.25, 0.0]

IMAGE = ["batch", 3, "height", "width"]


def _per_channel(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.float32).reshape(1, 3, 1, 1), name)


def preprocess():
    model = make_model(
        "preprocess",
        [
            helper.make_node("Cast", ["IMAGE"], ["image"], to=TensorProto.FLOAT),
            helper.make_node("Div", ["image", "full_scale"], ["scaled"]),
            helper.make_node("Sub", ["scaled", "mean"], ["centred"]),
            helper.make_node("Div", ["centred", "std"], ["PIXELS"]),
        ],
        [tensor("IMAGE", "TYPE_UINT8", IMAGE)],
        [tensor("PIXELS", "TYPE_FP32", IMAGE)],
        [
            numpy_helper.from_array(np.array(255, dtype=np.float32), "full_scale"),
            _per_channel("mean", MEAN),
            _per_channel("std", STD),
        ],
    )
    return model, PREPROCESS_CONFIG


def classifier():
    model = make_model(
        "classifier",
        [
            helper.make_node("ReduceMean", ["PIXELS"], ["averages"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["averages", "W"], ["weighted"]),
            helper.make_node("Add", ["weighted", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["SCORES"], axis=-1),
        ],
        [tensor("PIXELS", "TYPE_FP32", IMAGE)],
        [tensor("SCORES", "TYPE_FP32", ["batch", 4])],
        [
            numpy_helper.from_array(np.array(CLASSIFIER_W, dtype=np.float32), "W"),
            numpy_helper.from_array(np.array(CLASSIFIER_B, dtype=np.float32), "B"),
        ],
    )
    return model, CLASSIFIER_CONFIG


def segmenter():
    model = make_model(
        "segmenter",
        [
            helper.make_node("ReduceMean", ["PIXELS"], ["brightness"], axes=[1], keepdims=0),
            helper.make_node("Greater", ["brightness", "zero"], ["foreground"]),
            helper.make_node("Cast", ["foreground"], ["MASK"], to=TensorProto.UINT8),
        ],
        [tensor("PIXELS", "TYPE_FP32", IMAGE)],
        [tensor("MASK", "TYPE_UINT8", ["batch", "height", "width"])],
        [numpy_helper.from_array(np.array(0, dtype=np.float32), "zero")],
    )
    return model, SEGMENTER_CONFIG


def postprocess():
    model = make_model(
        "postprocess",
        [
            helper.make_node("ArgMax", ["SCORES"], ["class64"], axis=-1, keepdims=1),
            helper.make_node("Cast", ["class64"], ["CLASS_ID"], to=TensorProto.INT32),
            helper.make_node("ReduceMax", ["SCORES"], ["CONFIDENCE"], axes=[-1], keepdims=1),
        ],
        [tensor("SCORES", "TYPE_FP32", ["batch", 4])],
        [tensor("CLASS_ID", "TYPE_INT32", ["batch", 1]), tensor("CONFIDENCE", "TYPE_FP32", ["batch", 1])],
    )
    return model, POSTPROCESS_CONFIG


def write_ensemble(repo, name, config):
    """An ensemble has no model file, only a config and an empty version folder (kept by .gitkeep)."""
    version_dir = os.path.join(repo, name, "1")
    os.makedirs(version_dir, exist_ok=True)
    for entry in os.listdir(version_dir):
        os.remove(os.path.join(version_dir, entry))
    open(os.path.join(version_dir, ".gitkeep"), "w").close()
    write_config(os.path.join(repo, name), config)


def write_example_ensembles(repo):
    for name, build in (
        ("preprocess", preprocess),
        ("classifier", classifier),
        ("segmenter", segmenter),
        ("postprocess", postprocess),
    ):
        model, cfg = build()
        write_model(repo, name, model, cfg)
    write_ensemble(repo, "ensemble_pipeline", ENSEMBLE_PIPELINE_CONFIG)
    write_ensemble(repo, "ensemble_nested", ENSEMBLE_NESTED_CONFIG)


PREPROCESS_CONFIG = """\
# First step of ensemble_pipeline: turns a UINT8 image [3, H, W] into FP32 pixels, each channel
# scaled to [0, 1] and normalised with ImageNet's mean and standard deviation:
#   PIXELS[c] = (IMAGE[c] / 255 - mean[c]) / std[c]
#   mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225]
name: "preprocess"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "IMAGE"
    data_type: TYPE_UINT8
    dims: [ 3, -1, -1 ]
  }
]
output [
  {
    name: "PIXELS"
    data_type: TYPE_FP32
    dims: [ 3, -1, -1 ]
  }
]
"""

CLASSIFIER_CONFIG = """\
# A tiny image classifier over 4 classes: the softmax of a linear layer applied to the average of
# each channel of the normalised pixels.
#   SCORES = softmax(mean_hw(PIXELS) @ W + B)
#   W = [[2, -1, 0.5, -0.5], [-1, 2, 0.5, -0.5], [-1, -1, 0.5, 2]], B = [0, 0, 0.25, 0]
# so a mostly red image is class 0, green class 1, blue class 3, and a grey one class 2.
name: "classifier"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "PIXELS"
    data_type: TYPE_FP32
    dims: [ 3, -1, -1 ]
  }
]
output [
  {
    name: "SCORES"
    data_type: TYPE_FP32
    dims: [ 4 ]
  }
]
"""

SEGMENTER_CONFIG = """\
# A tiny segmenter: MASK[y][x] = 1 where the average of the pixel's three normalised channels is
# above 0 (brighter than the ImageNet average), else 0.
name: "segmenter"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "PIXELS"
    data_type: TYPE_FP32
    dims: [ 3, -1, -1 ]
  }
]
output [
  {
    name: "MASK"
    data_type: TYPE_UINT8
    dims: [ -1, -1 ]
  }
]
"""

POSTPROCESS_CONFIG = """\
# Turns the classifier's scores into an answer: the class with the highest score and that score.
name: "postprocess"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "SCORES"
    data_type: TYPE_FP32
    dims: [ 4 ]
  }
]
output [
  {
    name: "CLASS_ID"
    data_type: TYPE_INT32
    dims: [ 1 ]
  },
  {
    name: "CONFIDENCE"
    data_type: TYPE_FP32
    dims: [ 1 ]
  }
]
"""

ENSEMBLE_PIPELINE_CONFIG = """\
# One request, three models: the image is pre-processed once, then the classifier and the
# segmenter both read the same pixels and run at the same time. The client gets both answers.
#
#   IMAGE -> preprocess -> pixels -+-> classifier -> SCORES
#                                  +-> segmenter  -> MASK
name: "ensemble_pipeline"
platform: "ensemble"
max_batch_size: 8
input [
  {
    name: "IMAGE"
    data_type: TYPE_UINT8
    dims: [ 3, -1, -1 ]
  }
]
output [
  {
    name: "SCORES"
    data_type: TYPE_FP32
    dims: [ 4 ]
  },
  {
    name: "MASK"
    data_type: TYPE_UINT8
    dims: [ -1, -1 ]
  }
]
ensemble_scheduling {
  step [
    {
      model_name: "preprocess"
      model_version: -1
      input_map {
        key: "IMAGE"
        value: "IMAGE"
      }
      output_map {
        key: "PIXELS"
        value: "pixels"
      }
    },
    {
      model_name: "classifier"
      model_version: -1
      input_map {
        key: "PIXELS"
        value: "pixels"
      }
      output_map {
        key: "SCORES"
        value: "SCORES"
      }
    },
    {
      model_name: "segmenter"
      model_version: -1
      input_map {
        key: "PIXELS"
        value: "pixels"
      }
      output_map {
        key: "MASK"
        value: "MASK"
      }
    }
  ]
}
"""

ENSEMBLE_NESTED_CONFIG = """\
# An ensemble inside an ensemble: ensemble_pipeline does the pre-processing, classification and
# segmentation; postprocess turns its scores into a class and a confidence. The mask passes through.
#
#   IMAGE -> ensemble_pipeline -+-> scores -> postprocess -> CLASS_ID, CONFIDENCE
#                               +-> MASK
name: "ensemble_nested"
platform: "ensemble"
max_batch_size: 8
input [
  {
    name: "IMAGE"
    data_type: TYPE_UINT8
    dims: [ 3, -1, -1 ]
  }
]
output [
  {
    name: "CLASS_ID"
    data_type: TYPE_INT32
    dims: [ 1 ]
  },
  {
    name: "CONFIDENCE"
    data_type: TYPE_FP32
    dims: [ 1 ]
  },
  {
    name: "MASK"
    data_type: TYPE_UINT8
    dims: [ -1, -1 ]
  }
]
ensemble_scheduling {
  step [
    {
      model_name: "ensemble_pipeline"
      model_version: -1
      input_map {
        key: "IMAGE"
        value: "IMAGE"
      }
      output_map {
        key: "SCORES"
        value: "scores"
      }
      output_map {
        key: "MASK"
        value: "MASK"
      }
    },
    {
      model_name: "postprocess"
      model_version: -1
      input_map {
        key: "SCORES"
        value: "scores"
      }
      output_map {
        key: "CLASS_ID"
        value: "CLASS_ID"
      }
      output_map {
        key: "CONFIDENCE"
        value: "CONFIDENCE"
      }
    }
  ]
}
"""
