"""Nereid's implementation of Triton's `triton_python_backend_utils` module (imported by model.py
files as `pb_utils`). Written for Nereid from the documented behaviour of Triton's Python backend;
the stub (`nereid_python_stub.py`) sets `_channel` before any model code runs.
"""

import asyncio
import json
import struct

import numpy as np

# The stub's connection to the server; set by nereid_python_stub.py.
_channel = None

TRITONSERVER_REQUEST_FLAG_SEQUENCE_START = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_END = 2
TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1
TRITONSERVER_REQUEST_RELEASE_ALL = 1
TRITONSERVER_REQUEST_RELEASE_RESCHEDULE = 2
TRITONSERVER_MEMORY_CPU = 0
TRITONSERVER_MEMORY_GPU = 1

TRITON_STRING_TO_NUMPY = {
    "TYPE_BOOL": bool,
    "TYPE_UINT8": np.uint8,
    "TYPE_UINT16": np.uint16,
    "TYPE_UINT32": np.uint32,
    "TYPE_UINT64": np.uint64,
    "TYPE_INT8": np.int8,
    "TYPE_INT16": np.int16,
    "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64,
    "TYPE_FP16": np.float16,
    "TYPE_FP32": np.float32,
    "TYPE_FP64": np.float64,
    "TYPE_STRING": np.object_,
}

# TRITONSERVER_DataType numbers, as triton_dtype() and numpy_to_triton_type() return them.
_DTYPE_NUMBER = {
    "BOOL": 1, "UINT8": 2, "UINT16": 3, "UINT32": 4, "UINT64": 5, "INT8": 6, "INT16": 7,
    "INT32": 8, "INT64": 9, "FP16": 10, "FP32": 11, "FP64": 12, "BYTES": 13, "BF16": 14,
}
_NUMPY_OF_DATATYPE = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    # numpy has no bfloat16: the raw 16-bit patterns.
    "BF16": np.dtype("<u2"),
}
_DATATYPE_OF_KIND = {
    ("b", 1): "BOOL", ("u", 1): "UINT8", ("u", 2): "UINT16", ("u", 4): "UINT32", ("u", 8): "UINT64",
    ("i", 1): "INT8", ("i", 2): "INT16", ("i", 4): "INT32", ("i", 8): "INT64",
    ("f", 2): "FP16", ("f", 4): "FP32", ("f", 8): "FP64",
}


def serialize_byte_tensor(input_tensor):
    """Flattens an object/bytes array into Triton's BYTES layout (4-byte little-endian length,
    then the bytes, per element in C order). Returns () for an empty tensor, None for other dtypes."""
    if input_tensor.size == 0:
        return ()
    if input_tensor.dtype == np.object_ or input_tensor.dtype.type == np.bytes_:
        parts = []
        for item in input_tensor.reshape(-1, order="C"):
            if isinstance(item, (bytes, bytearray, memoryview)):
                raw = bytes(item)
            elif isinstance(item, np.bytes_):
                raw = bytes(item)
            else:
                raw = str(item).encode("utf-8")
            parts.append(struct.pack("<I", len(raw)))
            parts.append(raw)
        return b"".join(parts)
    return None


def deserialize_bytes_tensor(encoded_tensor):
    """Splits Triton's BYTES layout into a 1-D object array of bytes, in order."""
    view = memoryview(encoded_tensor).cast("B")
    items = []
    offset = 0
    end = len(view)
    while offset < end:
        (length,) = struct.unpack_from("<I", view, offset)
        offset += 4
        items.append(bytes(view[offset:offset + length]))
        offset += length
    result = np.empty(len(items), dtype=np.object_)
    result[:] = items
    return result


def get_input_tensor_by_name(inference_request, name):
    for tensor in inference_request.inputs():
        if tensor.name() == name:
            return tensor
    return None


def get_output_tensor_by_name(inference_response, name):
    for tensor in inference_response.output_tensors():
        if tensor.name() == name:
            return tensor
    return None


def get_input_config_by_name(model_config, name):
    for properties in model_config.get("input", []):
        if properties["name"] == name:
            return properties
    return None


def get_output_config_by_name(model_config, name):
    for properties in model_config.get("output", []):
        if properties["name"] == name:
            return properties
    return None


def using_decoupled_model_transaction_policy(model_config):
    if "model_transaction_policy" in model_config:
        return model_config["model_transaction_policy"].get("decoupled", False)
    return False


_NUMPY_OF_NUMBER = {
    1: np.bool_, 2: np.uint8, 3: np.uint16, 4: np.uint32, 5: np.uint64, 6: np.int8, 7: np.int16,
    8: np.int32, 9: np.int64, 10: np.float16, 11: np.float32, 12: np.float64, 13: np.object_,
}


def triton_to_numpy_type(data_type):
    return _NUMPY_OF_NUMBER.get(data_type)


def numpy_to_triton_type(data_type):
    if data_type == np.object_ or data_type == np.bytes_:
        return 13
    try:
        dtype = np.dtype(data_type)
    except TypeError:
        return None
    name = _DATATYPE_OF_KIND.get((dtype.kind, dtype.itemsize))
    return None if name is None else _DTYPE_NUMBER[name]


def triton_string_to_numpy(triton_type_string):
    return TRITON_STRING_TO_NUMPY[triton_type_string]


def get_model_dir():
    """The folder of the model's version (where model.py is), as Triton's stub defines it."""
    return _channel.model_dir if _channel is not None else ""


class TritonError:
    """An error a model returns in a response (code defaults to INTERNAL)."""

    UNKNOWN = 0
    INTERNAL = 1
    NOT_FOUND = 2
    INVALID_ARG = 3
    UNAVAILABLE = 4
    UNSUPPORTED = 5
    ALREADY_EXISTS = 6
    CANCELLED = 7

    def __init__(self, message, code=1):
        if message is None:
            raise TypeError("TritonError(): message must not be None")
        self._message = str(message)
        self._code = int(code)

    def code(self):
        return self._code

    def message(self):
        return self._message

    def __repr__(self):
        return "TritonError(%r, %d)" % (self._message, self._code)


class TritonModelException(Exception):
    pass


_ERROR_CODE_NAMES = ["UNKNOWN", "INTERNAL", "NOT_FOUND", "INVALID_ARG", "UNAVAILABLE",
                     "UNSUPPORTED", "ALREADY_EXISTS", "CANCELLED"]


class _DLPackCapsule:
    """Lets numpy.from_dlpack take a bare DLPack capsule."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, stream=None):
        return self._capsule

    def __dlpack_device__(self):
        return (1, 0)


class Tensor:
    """A named tensor over a numpy array (CPU only). BYTES tensors are object arrays of bytes."""

    def __init__(self, name, data, *, _datatype=None):
        if not isinstance(name, str):
            raise TypeError("Tensor(): name must be a string")
        if not isinstance(data, np.ndarray):
            raise TritonModelException(
                "Tensor() expects a numpy array, found type " + str(type(data)))
        if _datatype is None:
            if data.dtype == np.object_ or data.dtype.type == np.bytes_:
                _datatype = "BYTES"
            else:
                _datatype = _DATATYPE_OF_KIND.get((data.dtype.kind, data.dtype.itemsize))
                if _datatype is None:
                    raise TritonModelException(
                        "Tensor '" + name + "' has an unsupported numpy dtype " + str(data.dtype))
        self._name = name
        self._array = data
        self._datatype = _datatype

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array

    def triton_dtype(self):
        return _DTYPE_NUMBER[self._datatype]

    def shape(self):
        return list(self._array.shape)

    def is_cpu(self):
        return True

    def to_dlpack(self):
        if self._datatype == "BYTES":
            raise TritonModelException("DLPack does not support BYTES tensors")
        return self._array.__dlpack__()

    def __dlpack__(self, stream=None):
        return self.to_dlpack()

    def __dlpack_device__(self):
        return (1, 0)

    @staticmethod
    def from_dlpack(name, dlpack):
        source = dlpack if hasattr(dlpack, "__dlpack__") else _DLPackCapsule(dlpack)
        return Tensor(name, np.from_dlpack(source))

    def __repr__(self):
        return "Tensor(%r, %s, shape=%s)" % (self._name, self._datatype, list(self._array.shape))


def _parameters_json(parameters):
    if parameters is None:
        return "{}"
    if isinstance(parameters, str):
        return parameters
    if not isinstance(parameters, dict):
        raise TritonModelException("Expect dict, got " + str(type(parameters)))
    for key, value in parameters.items():
        if not isinstance(key, str):
            raise TritonModelException(
                "Expect parameters keys to have type str, found type " + str(type(key)))
        if not isinstance(value, (bool, int, str)):
            raise TritonModelException(
                "Expect parameters values to have type bool/int/str, found type " + str(type(value)))
    return json.dumps(parameters)


class InferenceResponse:
    def __init__(self, output_tensors=None, error=None, parameters=None):
        self._outputs = list(output_tensors) if output_tensors is not None else []
        for tensor in self._outputs:
            if not isinstance(tensor, Tensor):
                raise TritonModelException(
                    "InferenceResponse() expects a list of pb_utils.Tensor, found type " + str(type(tensor)))
        if error is not None and not isinstance(error, TritonError):
            raise TritonModelException("InferenceResponse() error must be a pb_utils.TritonError")
        self._error = error
        self._parameters = _parameters_json(parameters)

    def output_tensors(self):
        return self._outputs

    def has_error(self):
        return self._error is not None

    def error(self):
        return self._error

    def parameters(self):
        return self._parameters


def _text(value):
    """A string argument; bytes are taken as UTF-8, as pybind11 takes them for std::string."""
    if isinstance(value, (bytes, bytearray, np.bytes_)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


class InferenceRequest:
    """A request the model received, or one it builds to call another model (BLS)."""

    def __init__(self, request_id="", correlation_id=0, inputs=None, requested_output_names=None,
                 model_name=None, model_version=-1, flags=0, timeout=0, preferred_memory=None,
                 trace=None, parameters=None):
        if inputs is None or requested_output_names is None or model_name is None:
            raise TypeError(
                "InferenceRequest(): inputs, requested_output_names and model_name are required")
        if not isinstance(correlation_id, (int, str)):
            raise TritonModelException("Correlation ID must be integer or string")
        self._request_id = _text(request_id)
        self._correlation_id = correlation_id
        self._inputs = list(inputs)
        self._requested = [_text(name) for name in requested_output_names]
        self._model_name = _text(model_name)
        self._model_version = int(model_version)
        self._flags = int(flags)
        self._timeout = int(timeout)
        self._parameters = _parameters_json(parameters)
        self._release_flags = TRITONSERVER_REQUEST_RELEASE_ALL
        self._cancelled = None

    def inputs(self):
        return self._inputs

    def request_id(self):
        return self._request_id

    def correlation_id(self):
        return self._correlation_id

    def flags(self):
        return self._flags

    def set_flags(self, flags):
        self._flags = int(flags)

    def timeout(self):
        return self._timeout

    def parameters(self):
        return self._parameters

    def requested_output_names(self):
        return self._requested

    def model_name(self):
        return self._model_name

    def trace(self):
        return None

    def is_cancelled(self):
        return self._cancelled is not None and self._cancelled()

    def set_release_flags(self, flags):
        self._release_flags = int(flags)

    def get_response_sender(self):
        sender = getattr(self, "_response_sender", None)
        if sender is None:
            raise TritonModelException(
                "get_response_sender() is only available to models with the decoupled transaction policy")
        return sender

    def exec(self, decoupled=False):
        if decoupled:
            raise TritonModelException("BLS calls with decoupled=True are not supported yet")
        return _channel.bls_exec(self)

    def async_exec(self, decoupled=False):
        if decoupled:
            raise TritonModelException("BLS calls with decoupled=True are not supported yet")
        loop = asyncio.get_running_loop()
        return _channel.bls_async_exec(self, loop)


class Logger:
    class LogLevel:
        INFO = 0
        WARNING = 1
        ERROR = 2
        VERBOSE = 3

    INFO = 0
    WARNING = 1
    ERROR = 2
    VERBOSE = 3

    @staticmethod
    def log(message, level=0):
        if _channel is not None:
            _channel.log(int(level), str(message))

    @staticmethod
    def log_info(message):
        Logger.log(message, 0)

    @staticmethod
    def log_warn(message):
        Logger.log(message, 1)

    @staticmethod
    def log_error(message):
        Logger.log(message, 2)

    @staticmethod
    def log_verbose(message):
        Logger.log(message, 3)


class PreferredMemory:
    def __init__(self, preferred_memory_type, preferred_device_id=0):
        self.preferred_memory_type = preferred_memory_type
        self.preferred_device_id = preferred_device_id


class ModelConfig:
    """The configuration handed to auto_complete_config: read it with as_dict(), change what Triton
    allows (max_batch_size, inputs, outputs, dynamic batching, the transaction policy)."""

    def __init__(self, model_config):
        self._model_config = json.loads(model_config) if isinstance(model_config, str) else model_config

    def as_dict(self):
        return self._model_config

    def _name(self):
        return self._model_config.get("name", "")

    def set_max_batch_size(self, max_batch_size):
        if self._model_config.get("max_batch_size", 0) > max_batch_size:
            raise ValueError(
                "configuration specified max_batch_size " + str(self._model_config["max_batch_size"])
                + ", but in auto-complete-config function for model '" + self._name()
                + "' specified max_batch_size " + str(max_batch_size))
        self._model_config["max_batch_size"] = max_batch_size

    def set_dynamic_batching(self):
        found = None
        if "sequence_batching" in self._model_config:
            found = "sequence_batching"
        elif "ensemble_scheduling" in self._model_config:
            found = "ensemble_scheduling"
        if found is not None:
            raise ValueError(
                "Configuration specified scheduling_choice as '" + found
                + "', but auto-complete-config function for model '" + self._name()
                + "' tries to set scheduling_choice as 'dynamic_batching'")
        if "dynamic_batching" not in self._model_config:
            self._model_config["dynamic_batching"] = {}

    def _add_tensor(self, kind, tensor, valid, valid_text):
        for key in tensor:
            if key not in valid:
                raise ValueError(
                    kind + " '" + str(tensor.get("name")) + "' in auto-complete-config function for model '"
                    + self._name() + "' contains property other than " + valid_text + ".")
        if "name" not in tensor:
            raise ValueError(
                kind + " in auto-complete-config function for model '" + self._name()
                + "' is missing 'name' property.")
        for required in ("data_type", "dims"):
            if required not in tensor:
                raise ValueError(
                    kind + " '" + tensor["name"] + "' in auto-complete-config function for model '"
                    + self._name() + "' is missing '" + required + "' property.")
        key = "input" if kind == "input" else "output"
        existing = self._model_config.setdefault(key, [])
        for current in existing:
            if current["name"] != tensor["name"]:
                continue
            current_type = current.get("data_type", "TYPE_INVALID")
            if current_type != "TYPE_INVALID" and current_type != tensor["data_type"]:
                raise ValueError(
                    "unable to load model '" + self._name() + "', configuration expects datatype "
                    + current_type + " for " + kind + " '" + tensor["name"] + "', model provides "
                    + tensor["data_type"])
            if current.get("dims") and list(current["dims"]) != list(tensor["dims"]):
                raise ValueError(
                    "model '" + self._name() + "', tensor '" + tensor["name"]
                    + "': the model expects dims " + str(tensor["dims"])
                    + " but the model configuration specifies dims " + str(current["dims"]))
            if (kind == "input" and "optional" in current and "optional" in tensor
                    and current["optional"] != tensor["optional"]):
                raise ValueError(
                    "model '" + self._name() + "', tensor '" + tensor["name"]
                    + "': the model expects optional " + str(tensor["optional"])
                    + " but the model configuration specifies optional " + str(current["optional"]))
            current["data_type"] = tensor["data_type"]
            current["dims"] = tensor["dims"]
            if kind == "input" and "optional" in tensor:
                current["optional"] = tensor["optional"]
            return
        existing.append(tensor)

    def add_input(self, input):
        self._add_tensor("input", input, ("name", "data_type", "dims", "optional"),
                         "'name', 'data_type', 'dims' and 'optional'")

    def add_output(self, output):
        self._add_tensor("output", output, ("name", "data_type", "dims"),
                         "'name', 'data_type' and 'dims'")

    def set_model_transaction_policy(self, transaction_policy_dict):
        for key in transaction_policy_dict:
            if key != "decoupled":
                raise ValueError(
                    "model transaction property in auto-complete-config function for model '"
                    + self._name() + "' contains property other than 'decoupled'.")
        policy = self._model_config.setdefault("model_transaction_policy", {})
        if "decoupled" in transaction_policy_dict:
            if "decoupled" in policy and policy["decoupled"] != transaction_policy_dict["decoupled"]:
                raise ValueError(
                    "trying to change decoupled property in auto-complete-config for model '"
                    + self._name() + "', which is already set to '" + str(policy["decoupled"]) + "'.")
            policy["decoupled"] = transaction_policy_dict["decoupled"]
