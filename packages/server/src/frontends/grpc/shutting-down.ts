/** Triton's status text for inference calls (and stream requests) that arrive while its gRPC server shuts down. */
export const SHUTTING_DOWN_MESSAGE = 'GRPC server is shutting down and has stopped accepting new requests.';

/** Whether the server is draining: new inference work is refused. */
export type DrainingProbe = () => boolean;

export const NEVER_DRAINING: DrainingProbe = () => false;
