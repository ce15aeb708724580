/**
 * Protobuf codec micro-benchmark (not part of the test suite): encode and decode cost of the two
 * messages on the gRPC infer path, each carrying one 1 MiB tensor, with protobuf-es (the library the
 * server uses) and protobufjs (reflection, loaded from proto/ at run time) in the same process.
 * Prints the median µs per operation, the throughput in MB/s of tensor payload, and the ratio.
 * Run: `node --import tsx bench/src/proto-codec.bench.ts` (BENCH_SAMPLES sets the sample count).
 * Encode times include allocating ~1 MiB buffers, which glibc serves from fresh mmap pages or from its
 * heap depending on its dynamic thresholds, so they can be bimodal from run to run; for steady figures
 * run with MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=268435456.
 */
import { randomFillSync } from 'node:crypto';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ModelInferRequestSchema,
  ModelInferResponseSchema,
} from '@nereid/protocol/generated/grpc_service_pb';
import protobuf from 'protobufjs';

const PAYLOAD_BYTES = 1024 * 1024;
const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 200);
const PROTO_DIR = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'proto');

interface Codec {
  readonly encode: () => Uint8Array;
  readonly decode: (bytes: Uint8Array) => unknown;
}

interface Row {
  readonly label: string;
  readonly micros: number;
}

const payload = randomFillSync(Buffer.allocUnsafe(PAYLOAD_BYTES));
const tensorShape = [1, PAYLOAD_BYTES / 4];

function protobufEsCodecs(): { request: Codec; response: Codec } {
  const request = create(ModelInferRequestSchema, {
    modelName: 'identity_fp32',
    id: 'req-1',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: tensorShape.map(BigInt) }],
    outputs: [{ name: 'OUTPUT0' }],
    rawInputContents: [payload],
  });
  const response = create(ModelInferResponseSchema, {
    modelName: 'identity_fp32',
    modelVersion: '1',
    id: 'req-1',
    outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: tensorShape.map(BigInt) }],
    rawOutputContents: [payload],
  });
  return {
    request: {
      encode: () => toBinary(ModelInferRequestSchema, request),
      decode: (bytes) => fromBinary(ModelInferRequestSchema, bytes),
    },
    response: {
      encode: () => toBinary(ModelInferResponseSchema, response),
      decode: (bytes) => fromBinary(ModelInferResponseSchema, bytes),
    },
  };
}

function protobufJsCodecs(): { request: Codec; response: Codec } {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, basename(target));
  root.loadSync('grpc_service.proto', { keepCase: true });
  const requestType = root.lookupType('inference.ModelInferRequest');
  const responseType = root.lookupType('inference.ModelInferResponse');
  const request = requestType.fromObject({
    model_name: 'identity_fp32',
    id: 'req-1',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: tensorShape }],
    outputs: [{ name: 'OUTPUT0' }],
    raw_input_contents: [payload],
  });
  const response = responseType.fromObject({
    model_name: 'identity_fp32',
    model_version: '1',
    id: 'req-1',
    outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: tensorShape }],
    raw_output_contents: [payload],
  });
  return {
    request: {
      encode: () => requestType.encode(request).finish(),
      decode: (bytes) => requestType.decode(bytes),
    },
    response: {
      encode: () => responseType.encode(response).finish(),
      decode: (bytes) => responseType.decode(bytes),
    },
  };
}

/** Median wall time of one call, in µs, over SAMPLES timed calls after a warm-up. */
function medianMicros(run: () => unknown): number {
  for (let i = 0; i < 50; i++) run();
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function measure(message: string, es: Codec, js: Codec): Row[] {
  // Decode the bytes each library produced itself; both are the same wire format.
  const esBytes = es.encode();
  const jsBytes = js.encode();
  if (Math.abs(esBytes.byteLength - jsBytes.byteLength) > 16) {
    throw new Error(`${message}: encodings differ in size (${esBytes.byteLength} vs ${jsBytes.byteLength})`);
  }
  return [
    { label: `${message} encode  protobuf-es`, micros: medianMicros(es.encode) },
    { label: `${message} encode  protobufjs`, micros: medianMicros(js.encode) },
    { label: `${message} decode  protobuf-es`, micros: medianMicros(() => es.decode(esBytes)) },
    { label: `${message} decode  protobufjs`, micros: medianMicros(() => js.decode(jsBytes)) },
  ];
}

function print(rows: readonly Row[]): void {
  const megabytes = PAYLOAD_BYTES / 1e6;
  console.log(`payload ${PAYLOAD_BYTES} bytes, ${SAMPLES} samples, node ${process.version}`);
  console.log('case'.padEnd(44) + 'median µs'.padStart(12) + 'MB/s'.padStart(12) + '  es/js');
  for (let i = 0; i < rows.length; i += 2) {
    const es = rows[i]!;
    const js = rows[i + 1]!;
    for (const row of [es, js]) {
      const ratio = row === es ? `  ${(es.micros / js.micros).toFixed(2)}` : '';
      console.log(
        row.label.padEnd(44) +
          row.micros.toFixed(1).padStart(12) +
          (megabytes / (row.micros / 1e6)).toFixed(0).padStart(12) +
          ratio,
      );
    }
  }
}

const es = protobufEsCodecs();
const js = protobufJsCodecs();
print([
  ...measure('ModelInferRequest ', es.request, js.request),
  ...measure('ModelInferResponse', es.response, js.response),
]);
