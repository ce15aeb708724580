import { ROOT_CONTEXT, SpanKind, defaultTextMapGetter, isSpanContextValid, trace, type Context, type HrTime, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TraceConfigEntries } from './trace-setting.js';

/** Triton's tracer name and default service name. */
const TRACER_NAME = 'triton-server';
const SERVICE_NAME = 'triton-inference-server';

/** Headers or gRPC metadata, names lower-case. */
export type TraceCarrier = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The OpenTelemetry side of `--trace-config mode=opentelemetry` (Triton's InitTracer): an OTLP/HTTP
 * exporter behind a batch span processor, the resource attributes given with `resource=<key>=<value>`,
 * and W3C trace-context propagation. Spans carry steady-clock times shifted to the wall clock once,
 * as Triton's `time_offset_` does.
 */
export class OtelExport {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #propagator = new W3CTraceContextPropagator();
  /** Wall-clock ns minus steady ns, taken once. */
  readonly #offsetNs: bigint;

  constructor(config: TraceConfigEntries) {
    let url: string | undefined;
    const attributes: Record<string, string> = { 'service.name': SERVICE_NAME };
    const bsp: { maxQueueSize?: number; scheduledDelayMillis?: number; maxExportBatchSize?: number } = {};
    for (const [setting, value] of config) {
      if (setting === 'url') url = value;
      else if (setting === 'resource') {
        const at = value.indexOf('=');
        attributes[at < 0 ? value : value.slice(0, at)] = at < 0 ? '' : value.slice(at + 1);
      } else if (setting === 'bsp_max_queue_size') bsp.maxQueueSize = Number(value);
      else if (setting === 'bsp_schedule_delay') bsp.scheduledDelayMillis = Number(value);
      else if (setting === 'bsp_max_export_batch_size') bsp.maxExportBatchSize = Number(value);
    }
    const exporter = new OTLPTraceExporter(url === undefined ? {} : { url });
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes(attributes),
      spanProcessors: [new BatchSpanProcessor(exporter, bsp)],
    });
    this.#tracer = this.#provider.getTracer(TRACER_NAME);
    const wallNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    this.#offsetNs = wallNs - process.hrtime.bigint();
  }

  /** The client's span context from a `traceparent` (and `tracestate`), if it sent a valid one. */
  extract(carrier: TraceCarrier): Context | undefined {
    if (carrier['traceparent'] === undefined) return undefined;
    const context = this.#propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    const span = trace.getSpanContext(context);
    return span !== undefined && isSpanContextValid(span) ? context : undefined;
  }

  /** A server span starting at steady time `ns`, child of `parent` (a span or a propagated context). */
  startSpan(name: string, ns: number, parent: Span | Context | undefined): Span {
    const context = parent === undefined ? ROOT_CONTEXT : 'spanContext' in parent ? trace.setSpan(ROOT_CONTEXT, parent) : parent;
    return this.#tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: this.time(ns) }, context);
  }

  /** Steady ns as OpenTelemetry's wall-clock [seconds, nanoseconds]. */
  time(ns: number): HrTime {
    const wall = this.#offsetNs + BigInt(ns);
    return [Number(wall / 1_000_000_000n), Number(wall % 1_000_000_000n)];
  }

  /** Exports what is still queued and stops. */
  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}
