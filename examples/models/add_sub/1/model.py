"""Sum and difference of two FP32 tensors, the behaviour of Triton's Python add_sub example."""
import json

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        # Each output in the datatype its configuration names.
        self.output_dtypes = {
            name: pb_utils.triton_string_to_numpy(pb_utils.get_output_config_by_name(config, name)["data_type"])
            for name in ("OUTPUT0", "OUTPUT1")
        }

    def execute(self, requests):
        responses = []
        for request in requests:
            first = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            second = pb_utils.get_input_tensor_by_name(request, "INPUT1").as_numpy()
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT0", (first + second).astype(self.output_dtypes["OUTPUT0"])),
                pb_utils.Tensor("OUTPUT1", (first - second).astype(self.output_dtypes["OUTPUT1"])),
            ]))
        return responses

    def finalize(self):
        pb_utils.Logger.log_info("add_sub: finalize")
