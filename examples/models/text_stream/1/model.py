"""Streams its input back upper-cased, word by word when asked to (see config.pbtxt)."""
import json

import numpy as np
import triton_python_backend_utils as pb_utils


def _text_response(text):
    return pb_utils.InferenceResponse(output_tensors=[
        pb_utils.Tensor("text_output", np.array([text.encode("utf-8")], dtype=np.object_))])


class TritonPythonModel:
    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            text = pb_utils.get_input_tensor_by_name(request, "text_input").as_numpy()[0]
            text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
            params = json.loads(request.parameters())
            words = text.upper().split()[: int(params.get("max_tokens", 16))]
            if params.get("stream", False):
                for index, word in enumerate(words):
                    sender.send(_text_response(word if index == 0 else " " + word))
                sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
            else:
                sender.send(_text_response(" ".join(words)), flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None
