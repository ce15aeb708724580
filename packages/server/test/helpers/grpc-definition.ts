/**
 * The grpc-js definition of a protobuf-es service (tests use grpc-js as an independent gRPC client),
 * shared with @nereid/client.
 */
export { grpcServiceDefinition } from '@nereid/client';
