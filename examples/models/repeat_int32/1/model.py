"""Repeats its input, one response per element, from a thread of its own (a decoupled model)."""
import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.threads = []

    def execute(self, requests):
        for request in requests:
            values = pb_utils.get_input_tensor_by_name(request, "IN").as_numpy()
            delays = pb_utils.get_input_tensor_by_name(request, "DELAY").as_numpy()
            wait = int(pb_utils.get_input_tensor_by_name(request, "WAIT").as_numpy()[0])
            if len(delays) != len(values):
                raise pb_utils.TritonModelException(
                    "expected IN and DELAY of the same length, got " + str(len(values)) + " and " + str(len(delays)))
            sender = request.get_response_sender()
            thread = threading.Thread(target=self.respond, args=(sender, values, delays), daemon=True)
            thread.start()
            self.threads.append(thread)
            time.sleep(wait / 1000)
        # A decoupled model answers through its response senders only.
        return None

    def respond(self, sender, values, delays):
        for index, (value, delay) in enumerate(zip(values, delays)):
            time.sleep(int(delay) / 1000)
            sender.send(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUT", np.array([value], dtype=np.int32)),
                pb_utils.Tensor("IDX", np.array([index], dtype=np.uint32)),
            ]))
        sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    def finalize(self):
        for thread in self.threads:
            thread.join()
