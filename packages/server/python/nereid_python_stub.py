"""Nereid's Python backend stub: one process per model instance, started by the server.

    python3 nereid_python_stub.py <model.py path> <instance name>

It talks to the server over file descriptor 3 (a Unix socket pair). Every message is one frame:

    u32 LE  length of what follows
    u8      kind
    u32 LE  header length
    header  JSON (utf-8)
    padding to a multiple of 8 bytes from the kind byte
    data    tensor bytes; the header's "t" lists [name, datatype, shape, offset, nbytes] per tensor,
            offsets counted from the start of the data, each a multiple of 8

Reads block (no polling): an idle stub uses no CPU. The main thread reads the socket while it is
idle and runs each command it reads itself; once a command makes a BLS call, a helper thread reads
instead until the command ends (BLS results go to the call waiting for them, further commands wait
their turn). When the server goes away (end of file), the stub exits.
"""

import asyncio
import importlib
import json
import os
import select
import socket
import struct
import sys
import threading
import traceback

try:
    import numpy as np

    import triton_python_backend_utils as pb_utils

    _SETUP_ERROR = None
except ImportError as _error:  # reported to the server as the model's load error
    _SETUP_ERROR = _error

# Server -> stub
AUTO_COMPLETE = 1
INITIALIZE = 2
EXECUTE = 3
FINALIZE = 4
IS_READY = 5
BLS_RESULT = 6
PING = 7
QUERY_RESULT = 8
# Stub -> server
HELLO = 64
REPLY = 65
BLS_CALL = 67
LOG = 68
PONG = 69
# Reserved for decoupled models: one response of a request, {"request", "final"} + its tensors.
RESPONSE = 70
QUERY = 71

_FRAME = struct.Struct("<IBI")
_U32 = struct.Struct("<I")


def _align8(value):
    return (value + 7) & ~7


def _tensor_bytes(tensor):
    """The wire bytes of a pb_utils.Tensor (BYTES serialised), as a buffer."""
    array = tensor.as_numpy()
    if tensor._datatype == "BYTES":
        if array.size == 0:
            return b""
        return pb_utils.serialize_byte_tensor(array)
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return memoryview(array).cast("B") if array.size > 0 else b""


def _tensor_from_wire(name, datatype, shape, body, offset, nbytes):
    if datatype == "BYTES":
        array = pb_utils.deserialize_bytes_tensor(memoryview(body)[offset:offset + nbytes])
        array = array.reshape(shape)
    else:
        dtype = pb_utils._NUMPY_OF_DATATYPE[datatype]
        count = nbytes // dtype.itemsize
        array = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)
    return pb_utils.Tensor(name, array, _datatype=datatype)


class Channel:
    """Frames over the socket to the server: writes under a lock, reads on one thread."""

    def __init__(self, fd, model_dir):
        self._sock = socket.socket(fileno=fd)
        self._write_lock = threading.Lock()
        # Commands the helper read while the main thread was busy, in order.
        self._commands = []
        self._rbuf = bytearray()
        self._rpos = 0
        self._turn = threading.Condition()
        self._helper_reads = False
        self._lent = False
        self._wake_r, self._wake_w = os.pipe()
        self._calls = {}
        self._calls_lock = threading.Lock()
        self._next_call = 0
        self.model_dir = model_dir
        self.finalizing = False

    # ---- writing ----
    def send(self, kind, header, tensors=()):
        """Sends one frame; tensors are pb_utils.Tensor objects, described in header["t"]."""
        header_obj = header
        datas = [_tensor_bytes(t) for t in tensors]
        if datas:
            descriptors = []
            offset = 0
            for tensor, data in zip(tensors, datas):
                descriptors.append([tensor.name(), tensor._datatype, list(tensor.as_numpy().shape), offset, len(data)])
                offset = _align8(offset + len(data))
            header_obj = dict(header, t=descriptors)
        header_bytes = json.dumps(header_obj, separators=(",", ":")).encode()
        parts = [None, header_bytes]
        cursor = 5 + len(header_bytes)
        if datas:
            for data in datas:
                pad = _align8(cursor) - cursor
                if pad:
                    parts.append(bytes(pad))
                parts.append(data)
                cursor += pad + len(data)
        parts[0] = _FRAME.pack(cursor, kind, len(header_bytes))
        self._send_all(parts)

    def _send_all(self, buffers):
        views = [b if isinstance(b, bytes) else memoryview(b).cast("B") for b in buffers if len(b) > 0]
        with self._write_lock:
            while views:
                sent = self._sock.sendmsg(views[:512])
                while sent > 0:
                    head = views[0]
                    if sent >= len(head):
                        sent -= len(head)
                        views.pop(0)
                    else:
                        views[0] = head[sent:]
                        sent = 0

    def log(self, level, message):
        try:
            self.send(LOG, {"level": level, "message": message})
        except OSError:
            pass

    # ---- reading ----
    # One thread reads at a time. The main thread reads while it is idle (so a command starts on
    # the thread that read it, with no hand-off); once a command makes a BLS call, the helper thread
    # reads instead (BLS results, commands that arrive meanwhile) until the main thread takes the
    # socket back. Frames are cut from one buffer both threads use, so bytes read ahead by one are
    # seen by the other.
    def _fill(self, need):
        """Reads until the buffer holds `need` bytes from the read position."""
        while len(self._rbuf) - self._rpos < need:
            chunk = self._sock.recv(max(1 << 16, need - (len(self._rbuf) - self._rpos)))
            if not chunk:
                raise EOFError()
            if self._rpos > 0:
                del self._rbuf[:self._rpos]
                self._rpos = 0
            self._rbuf += chunk

    def _has_frame(self):
        available = len(self._rbuf) - self._rpos
        return available >= 4 and available >= 4 + _U32.unpack_from(self._rbuf, self._rpos)[0]

    def read_frame(self):
        """The next frame as (kind, header, body); body is a bytearray of its own."""
        self._fill(4)
        (length,) = _U32.unpack_from(self._rbuf, self._rpos)
        self._fill(4 + length)
        start = self._rpos + 4
        body = self._rbuf[start:start + length]
        self._rpos = start + length
        (header_length,) = _U32.unpack_from(body, 1)
        return body[0], json.loads(bytes(body[5:5 + header_length])), body

    def route(self, kind, header, body):
        """Handles a frame that is not a command; returns False for commands."""
        if kind == PING:
            self.send(PONG, {"id": header.get("id", 0)})
        elif kind == BLS_RESULT or kind == QUERY_RESULT:
            with self._calls_lock:
                waiter = self._calls.pop(header["call"], None)
            if waiter is not None:
                waiter(header, body)
        else:
            return False
        return True

    def next_command(self):
        """On the main thread: the next command, reading the socket itself when none is queued."""
        try:
            while not self._commands:
                kind, header, body = self.read_frame()
                if not self.route(kind, header, body):
                    return kind, header, body
            return self._commands.pop(0)
        except (EOFError, OSError):
            self.server_gone()
            return None

    def server_gone(self):
        if not self.finalizing:
            os._exit(1)

    def helper(self):
        """The helper thread: reads while the main thread runs a command."""
        while True:
            with self._turn:
                while not self._helper_reads:
                    self._turn.wait()
            try:
                while True:
                    if not self._has_frame():
                        ready, _, _ = select.select([self._sock, self._wake_r], [], [])
                        if self._wake_r in ready:
                            os.read(self._wake_r, 64)
                            break
                    kind, header, body = self.read_frame()
                    if not self.route(kind, header, body):
                        self._commands.append((kind, header, body))
            except (EOFError, OSError):
                self.server_gone()
                return
            with self._turn:
                self._helper_reads = False
                self._turn.notify_all()

    def lend_socket(self):
        """While a command runs: the helper reads until `take_socket_back` (from the first BLS call
        on; a command that makes none leaves the socket alone and costs no thread switch)."""
        with self._turn:
            if not self._lent:
                self._lent = True
                self._helper_reads = True
                self._turn.notify_all()

    def take_socket_back(self):
        if not self._lent:
            return
        os.write(self._wake_w, b"x")
        with self._turn:
            while self._helper_reads:
                self._turn.wait()
            self._lent = False

    # ---- BLS ----
    def _bls_frame(self, request, waiter):
        self.lend_socket()
        with self._calls_lock:
            self._next_call += 1
            call = self._next_call
            self._calls[call] = waiter
        header = {
            "call": call,
            "model": request._model_name,
            "version": request._model_version,
            "id": request._request_id,
            "corr": request._correlation_id,
            "flags": request._flags,
            "timeout": request._timeout,
            "params": json.loads(request._parameters),
            "outputs": request._requested,
        }
        try:
            self.send(BLS_CALL, header, request._inputs)
        except BaseException:
            with self._calls_lock:
                self._calls.pop(call, None)
            raise

    def query(self, what, batch, index):
        """Asks the server about a request being executed (e.g. "cancelled"); blocks for the answer."""
        self.lend_socket()
        done = threading.Event()
        result = []

        def waiter(header, body):
            result.append(header.get("result"))
            done.set()

        with self._calls_lock:
            self._next_call += 1
            call = self._next_call
            self._calls[call] = waiter
        self.send(QUERY, {"call": call, "what": what, "batch": batch, "index": index})
        done.wait()
        return result[0]

    def bls_exec(self, request):
        done = threading.Event()
        result = []

        def waiter(header, body):
            result.append(_bls_response(header, body))
            done.set()

        self._bls_frame(request, waiter)
        done.wait()
        return result[0]

    def bls_async_exec(self, request, loop):
        future = loop.create_future()

        def waiter(header, body):
            response = _bls_response(header, body)
            loop.call_soon_threadsafe(_resolve, future, response)

        self._bls_frame(request, waiter)
        return future


def _cancellation_query(channel, batch, index):
    return lambda: channel.query("cancelled", batch, index) is True


def _resolve(future, value):
    if not future.done():
        future.set_result(value)


def _tensors_of(header, body, start, count):
    described = header.get("t", [])
    tensors = []
    data_start = _align8(5 + _U32.unpack_from(body, 1)[0])
    for name, datatype, shape, offset, nbytes in described[start:start + count]:
        tensors.append(_tensor_from_wire(name, datatype, shape, body, data_start + offset, nbytes))
    return tensors


def _bls_response(header, body):
    error = header.get("error")
    if error is not None:
        return pb_utils.InferenceResponse(
            output_tensors=[], error=pb_utils.TritonError(error[1], error[0]))
    outputs = _tensors_of(header, body, 0, len(header.get("t", [])))
    return pb_utils.InferenceResponse(output_tensors=outputs, parameters=header.get("params") or {})


def _error_text(error):
    """An exception as pybind11 prints it in Triton's messages: type, message, then the frames."""
    text = type(error).__name__ + ": " + str(error)
    # The model's frames only, as Triton's (the stub's own and asyncio's plumbing are not the model's).
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if f.filename != __file__ and "/concurrent/futures/" not in f.filename]
    if frames:
        text += "\n\nAt:\n" + "".join(
            "  %s(%d): %s\n" % (f.filename, f.lineno, f.name) for f in reversed(frames))
    return text


class Stub:
    def __init__(self, model_file, name):
        self.model_file = os.path.abspath(model_file)
        self.name = name
        version_dir = os.path.dirname(self.model_file)
        self.model_dir = os.path.dirname(version_dir)
        self.version = os.path.basename(version_dir)
        self.channel = Channel(3, version_dir)
        if _SETUP_ERROR is None:
            pb_utils._channel = self.channel
        self.module = None
        self.model = None
        self.bf16_outputs = set()
        self.decoupled = False
        self.loop = None

    def import_model(self):
        module_name = os.path.basename(self.model_file)
        if not module_name.endswith(".py"):
            raise pb_utils.TritonModelException(
                'Model name must end with \'.py\'. Model name is "' + module_name + '".')
        sys.path.append(os.path.dirname(self.model_file))
        sys.path.append(self.model_dir)
        self.module = importlib.import_module(self.version + "." + module_name[:-3])

    def run(self):
        helper = threading.Thread(target=self.channel.helper, name="nereid-stub-reader", daemon=True)
        helper.start()
        try:
            if _SETUP_ERROR is not None:
                raise ImportError(
                    "the Python backend needs numpy in the interpreter " + sys.executable
                    + " (Debian: apt-get install python3-numpy): " + str(_SETUP_ERROR))
            self.import_model()
            model_class = getattr(self.module, "TritonPythonModel")
            self.channel.send(HELLO, {"ok": True, "auto_complete": hasattr(model_class, "auto_complete_config")})
        except BaseException as error:
            self.channel.send(HELLO, {"ok": False, "error": _error_text(error)})
            return 1
        while True:
            command = self.channel.next_command()
            if command is None:
                return 0
            kind, header, body = command
            try:
                if kind == EXECUTE:
                    self.execute(header, body)
                elif kind == AUTO_COMPLETE:
                    self.reply(header, self.auto_complete, header)
                elif kind == INITIALIZE:
                    self.reply(header, self.initialize, header)
                elif kind == IS_READY:
                    self.reply(header, self.is_ready, header)
                elif kind == FINALIZE:
                    self.channel.finalizing = True
                    self.reply(header, self.finalize, header)
                    return 0
            finally:
                self.channel.take_socket_back()

    def reply(self, header, action, argument):
        try:
            result = action(argument)
            self.channel.send(REPLY, {"id": header["id"], "ok": True, "result": result})
        except BaseException as error:
            self.channel.send(REPLY, {"id": header["id"], "ok": False, "error": _error_text(error)})

    def auto_complete(self, header):
        config = pb_utils.ModelConfig(header["config"])
        model_class = self.module.TritonPythonModel
        if hasattr(model_class, "auto_complete_config"):
            config = model_class.auto_complete_config(config)
        if not isinstance(config, pb_utils.ModelConfig):
            raise pb_utils.TritonModelException(
                "auto_complete_config function in model '" + self.name
                + "' must return a valid pb.ModelConfig object.")
        return json.dumps(config._model_config)

    def initialize(self, header):
        self.name = header["args"].get("model_instance_name", self.name)
        config = json.loads(header["args"]["model_config"])
        self.bf16_outputs = set(
            output["name"] for output in config.get("output", [])
            if output.get("data_type") == "TYPE_BF16")
        self.decoupled = bool((config.get("model_transaction_policy") or {}).get("decoupled", False))
        self.model = self.module.TritonPythonModel()
        if hasattr(self.model, "initialize"):
            result = self.model.initialize(dict(header["args"]))
            if asyncio.iscoroutine(result):
                self.run_coroutine(result)
        return {"is_ready": hasattr(self.model, "is_ready")}

    def is_ready(self, header):
        if not hasattr(self.model, "is_ready"):
            return True
        result = self.model.is_ready()
        if asyncio.iscoroutine(result):
            result = self.run_coroutine(result)
        if not isinstance(result, bool):
            raise pb_utils.TritonModelException("is_ready() must return a boolean")
        return result

    def finalize(self, header):
        if self.model is not None and hasattr(self.model, "finalize"):
            result = self.model.finalize()
            if asyncio.iscoroutine(result):
                self.run_coroutine(result)
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        return True

    def run_coroutine(self, coroutine):
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, name="nereid-stub-asyncio", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def execute(self, header, body):
        requests = []
        cursor = 0
        for spec in header["requests"]:
            count = spec["inputs"]
            request = pb_utils.InferenceRequest(
                request_id=spec.get("id", ""),
                correlation_id=spec.get("corr", 0),
                inputs=_tensors_of(header, body, cursor, count),
                requested_output_names=spec["outputs"],
                model_name=spec.get("model", ""),
                model_version=spec.get("version", -1),
                flags=spec.get("flags", 0),
                timeout=spec.get("timeout", 0),
                parameters=json.dumps(spec.get("params", {})),
            )
            cursor += count
            request._cancelled = _cancellation_query(self.channel, header.get("batch", 0), len(requests))
            if self.decoupled:
                request._response_sender = ResponseSender(
                    self, header.get("batch", 0), len(requests), request.requested_output_names(), request._cancelled)
            requests.append(request)
        try:
            if not hasattr(self.model, "execute"):
                raise pb_utils.TritonModelException(
                    "Python model " + self.model_file + " does not implement `execute` method.")
            returned = self.model.execute(requests)
            if asyncio.iscoroutine(returned):
                returned = self.run_coroutine(returned)
            responses, tensors = self.check_responses(requests, returned)
        except BaseException as error:
            message = ("Failed to process the request(s) for model '" + self.name + "', message: "
                       + _error_text(error))
            self.channel.log(2, message)
            self.channel.send(REPLY, {"id": header["id"], "ok": False, "error": message})
            return
        self.channel.send(REPLY, {"id": header["id"], "ok": True, "responses": responses}, tensors)

    def check_responses(self, requests, returned):
        if returned is None:
            return [None] * len(requests), []
        if self.decoupled:
            # Triton: a decoupled model answers through its response senders only.
            raise pb_utils.TritonModelException(
                "Python model '" + self.name + "' is using the decoupled mode and the execute function "
                "must return None.")
        if not isinstance(returned, list):
            raise pb_utils.TritonModelException(
                "Expected a list in the execute return, found type '" + str(type(returned)) + "'.")
        if len(returned) != len(requests):
            raise pb_utils.TritonModelException(
                "Number of InferenceResponse objects do not match the number of InferenceRequest "
                "objects. InferenceRequest(s) size is:" + str(len(requests))
                + ", and InferenceResponse(s) size is:" + str(len(returned)) + "\n")
        responses = []
        tensors = []
        for request, response in zip(requests, returned):
            if response is None:
                responses.append(None)
                continue
            if not isinstance(response, pb_utils.InferenceResponse):
                raise pb_utils.TritonModelException(
                    "Expected an 'InferenceResponse' object in the execute function return list, "
                    "found type '" + str(type(response)) + "'.")
            if response.has_error():
                error = response.error()
                responses.append({"outputs": 0, "error": [error.code(), error.message()]})
                continue
            wanted = set(request.requested_output_names())
            kept = [t for t in response.output_tensors() if t.name() in wanted]
            for tensor in kept:
                # numpy has no bfloat16: 16-bit patterns for a BF16 output go out as BF16.
                if tensor._datatype == "UINT16" and tensor.name() in self.bf16_outputs:
                    tensor._datatype = "BF16"
            tensors.extend(kept)
            params = response.parameters()
            responses.append({"outputs": len(kept), "params": {} if params == "{}" else json.loads(params)})
        return responses, tensors


class ResponseSender:
    """pb_utils' InferenceResponseSender for one request of a decoupled model: each send() is a
    RESPONSE frame (safe from any thread: frames are written under the channel's lock); the one with
    TRITONSERVER_RESPONSE_COMPLETE_FINAL closes it."""

    def __init__(self, stub, batch, index, requested, cancelled):
        self._stub = stub
        self._batch = batch
        self._index = index
        self._requested = set(requested)
        self._cancelled = cancelled
        self._closed = False
        self._lock = threading.Lock()

    def send(self, response=None, flags=0):
        final = (int(flags) & pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL) != 0
        if response is None and not final:
            raise pb_utils.TritonModelException("Inference Response object must be provided when the response flags is set to 0.")
        if response is not None and not isinstance(response, pb_utils.InferenceResponse):
            raise pb_utils.TritonModelException(
                "Expected an 'InferenceResponse' object, found type '" + str(type(response)) + "'.")
        with self._lock:
            if self._closed:
                raise pb_utils.TritonModelException("Unable to send response. Response sender has been closed.")
            self._closed = final
        header = {"batch": self._batch, "index": self._index, "final": final}
        tensors = []
        if response is not None:
            if response.has_error():
                error = response.error()
                header["error"] = [error.code(), error.message()]
            else:
                tensors = [t for t in response.output_tensors() if t.name() in self._requested]
                for tensor in tensors:
                    if tensor._datatype == "UINT16" and tensor.name() in self._stub.bf16_outputs:
                        tensor._datatype = "BF16"
                params = response.parameters()
                if params != "{}":
                    header["params"] = json.loads(params)
        self._stub.channel.send(RESPONSE, header, tensors)

    def is_cancelled(self):
        return self._cancelled is not None and self._cancelled()


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: nereid_python_stub.py <model.py> <instance name>\n")
        return 2
    return Stub(sys.argv[1], sys.argv[2]).run()


if __name__ == "__main__":
    sys.exit(main())
