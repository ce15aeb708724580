"""Calls `simple` through the server (BLS) and returns its answer."""
import asyncio
import json

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    async def execute(self, requests):
        return [await self.answer(request) for request in requests]

    async def answer(self, request):
        calls = int(json.loads(request.parameters()).get("calls", 1))
        call = pb_utils.InferenceRequest(
            model_name="simple",
            inputs=[pb_utils.get_input_tensor_by_name(request, "INPUT0"),
                    pb_utils.get_input_tensor_by_name(request, "INPUT1")],
            requested_output_names=["OUTPUT0", "OUTPUT1"],
        )
        if calls <= 1:
            replies = [call.exec()]
        else:
            replies = await asyncio.gather(*(call.async_exec() for _ in range(calls)))
        for reply in replies:
            if reply.has_error():
                return pb_utils.InferenceResponse(error=reply.error())
        first = replies[0]
        for reply in replies[1:]:
            for name in ("OUTPUT0", "OUTPUT1"):
                if not np.array_equal(pb_utils.get_output_tensor_by_name(reply, name).as_numpy(),
                                      pb_utils.get_output_tensor_by_name(first, name).as_numpy()):
                    return pb_utils.InferenceResponse(
                        error=pb_utils.TritonError("simple answered the same request differently"))
        return pb_utils.InferenceResponse(output_tensors=[
            pb_utils.Tensor(name, pb_utils.get_output_tensor_by_name(first, name).as_numpy())
            for name in ("OUTPUT0", "OUTPUT1")
        ])
