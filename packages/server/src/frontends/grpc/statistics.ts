import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  InferResponseStatisticsSchema,
  ModelStatisticsResponseSchema,
  ModelStatisticsSchema,
  StatisticDurationSchema,
  type ModelStatisticsResponse,
} from '@nereid/protocol/generated/grpc_service_pb';
import type {
  InferResponseStatistics,
  ModelStatistics,
  ModelStatisticsPayload,
  StatisticDuration,
} from '../../core/types.js';

type DurationInit = MessageInitShape<typeof StatisticDurationSchema>;

/**
 * The core's statistics payload (the JSON shape of Triton's statistics extension) as a
 * ModelStatisticsResponse, field for field as Triton's gRPC frontend copies it; counters are uint64,
 * so they travel as bigints.
 */
export function statisticsToProto(payload: ModelStatisticsPayload): ModelStatisticsResponse {
  return create(ModelStatisticsResponseSchema, { modelStats: payload.model_stats.map(modelStatistics) });
}

function modelStatistics(stats: ModelStatistics): MessageInitShape<typeof ModelStatisticsSchema> {
  const infer = stats.inference_stats;
  const responseStats: Record<string, MessageInitShape<typeof InferResponseStatisticsSchema>> = {};
  for (const [index, entry] of Object.entries(stats.response_stats)) responseStats[index] = responseStatistics(entry);
  return {
    name: stats.name,
    version: stats.version,
    lastInference: u64(stats.last_inference),
    inferenceCount: u64(stats.inference_count),
    executionCount: u64(stats.execution_count),
    inferenceStats: {
      success: duration(infer.success),
      fail: duration(infer.fail),
      queue: duration(infer.queue),
      computeInput: duration(infer.compute_input),
      computeInfer: duration(infer.compute_infer),
      computeOutput: duration(infer.compute_output),
      cacheHit: duration(infer.cache_hit),
      cacheMiss: duration(infer.cache_miss),
    },
    responseStats,
    batchStats: stats.batch_stats.map((batch) => ({
      batchSize: u64(batch.batch_size),
      computeInput: duration(batch.compute_input),
      computeInfer: duration(batch.compute_infer),
      computeOutput: duration(batch.compute_output),
    })),
    memoryUsage: stats.memory_usage.map((usage) => ({
      type: usage.type,
      id: BigInt(Math.trunc(usage.id)),
      byteSize: u64(usage.byte_size),
    })),
  };
}

function responseStatistics(stats: InferResponseStatistics): MessageInitShape<typeof InferResponseStatisticsSchema> {
  return {
    computeInfer: duration(stats.compute_infer),
    computeOutput: duration(stats.compute_output),
    success: duration(stats.success),
    fail: duration(stats.fail),
    emptyResponse: duration(stats.empty_response),
    cancel: duration(stats.cancel),
  };
}

function duration(value: StatisticDuration): DurationInit {
  return { count: u64(value.count), ns: u64(value.ns) };
}

/** A counter as uint64 (nanosecond totals pass 2^53 only after ~104 days of compute). */
function u64(value: number): bigint {
  return value > 0 ? BigInt(Math.trunc(value)) : 0n;
}
