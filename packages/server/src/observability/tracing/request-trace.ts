import type { Context, Span } from '@opentelemetry/api';
import type { Tensor } from '../../tensor/tensor.js';
import { nowNs } from '../../util/clock.js';
import type { OtelExport } from './otel-export.js';
import { formatTensorData } from './tensor-text.js';
import { TraceText } from './trace-text.js';
import { TRACE_LEVEL_TENSORS, TRACE_LEVEL_TIMESTAMPS, type TraceSetting } from './trace-setting.js';

/** `,"model_name":<name>,"model_version":<version>` per model, encoded: escaping the name anew is most of a header's cost. */
const modelFieldsCache = new Map<string, { readonly version: bigint; readonly bytes: Uint8Array }>();
const MODEL_FIELDS_CACHE_LIMIT = 1024;

function modelFields(modelName: string, modelVersion: bigint): Uint8Array {
  const cached = modelFieldsCache.get(modelName);
  if (cached !== undefined && cached.version === modelVersion) return cached.bytes;
  if (modelFieldsCache.size >= MODEL_FIELDS_CACHE_LIMIT) modelFieldsCache.clear();
  const bytes = Uint8Array.from(Buffer.from(`,"model_name":${JSON.stringify(modelName)},"model_version":${modelVersion}`, 'utf8'));
  modelFieldsCache.set(modelName, { version: modelVersion, bytes });
  return bytes;
}

/** Trace ids start at 1: 0 means "no parent" (Triton's InferenceTrace::next_id_). */
let nextTraceId = 1;

/** Triton's tensor trace activities. */
export type TensorActivity = 'TENSOR_QUEUE_INPUT' | 'TENSOR_BACKEND_OUTPUT';

/**
 * One sampled request as its frontend sees it, with the traces its ensemble steps spawn (Triton's
 * TraceManager::Trace). Frontend timestamps go to the root trace; the model side reports through
 * `InferenceTrace`. Once the frontend has finished and every started trace is released, Triton mode
 * hands the entries to the setting's file; OpenTelemetry mode ends the root span.
 */
export class RequestTrace {
  readonly setting: TraceSetting;
  readonly root: InferenceTrace;
  /** The root trace and the traces spawned from it, in the order made (their entries are written in this order). */
  readonly #traces: InferenceTrace[] = [];
  /** The frontend and each started trace not released yet. */
  #pending = 1;
  readonly otel: OtelExport | undefined;
  /** OpenTelemetry: the "InferRequest" span the frontend's events go to. */
  readonly rootSpan: Span | undefined;

  constructor(setting: TraceSetting, otel: OtelExport | undefined, propagated: Context | undefined, startNs: number) {
    this.setting = setting;
    this.otel = setting.mode === 'opentelemetry' ? otel : undefined;
    this.rootSpan = this.otel?.startSpan('InferRequest', startNs, propagated);
    this.root = new InferenceTrace(this, 0);
  }

  /** A timestamp taken outside the model (HTTP_RECV_START, GRPC_SEND_END, ...). */
  captureTimestamp(name: string, ns: number): void {
    if ((this.setting.level & TRACE_LEVEL_TIMESTAMPS) === 0) return;
    if (this.rootSpan !== undefined) this.rootSpan.addEvent(name, this.otel!.time(ns));
    else this.root.text.timestamp(this.root.id, name, ns);
  }

  /** The frontend is done with the request (its response sent or its error answered). */
  finish(): void {
    this.#release();
  }

  /** @internal */
  adopt(trace: InferenceTrace): void {
    this.#traces.push(trace);
  }

  /** @internal A trace started reporting. */
  retain(): void {
    this.#pending++;
  }

  /** @internal */
  release(): void {
    this.#release();
  }

  #release(): void {
    if (--this.#pending > 0) return;
    if (this.rootSpan !== undefined) {
      // An explicit end on the same clock as every other time of the trace: without one, a span
      // given its start time ends at Date.now(), whole milliseconds, which could put the root's
      // end before its children's.
      this.rootSpan.end(this.otel!.time(nowNs()));
      return;
    }
    const texts = this.#traces.map((trace) => trace.text);
    this.setting.collect(texts);
    for (const text of texts) text.release();
  }
}

/**
 * The trace of one model request, the client's or an ensemble step's (Triton's core InferenceTrace):
 * the model side reports its activities here, TIMESTAMPS and TENSORS as the level asks.
 */
export class InferenceTrace {
  readonly id = nextTraceId++;
  readonly parentId: number;
  /** This trace's entries so far (Triton mode). */
  readonly text = new TraceText();
  readonly #owner: RequestTrace;
  readonly #parent: InferenceTrace | undefined;
  #requestSpan: Span | undefined;
  #computeSpan: Span | undefined;
  #started = false;

  constructor(owner: RequestTrace, parentId: number, parent?: InferenceTrace) {
    this.#owner = owner;
    this.parentId = parentId;
    this.#parent = parent;
    owner.adopt(this);
  }

  get timestamps(): boolean {
    return (this.#owner.setting.level & TRACE_LEVEL_TIMESTAMPS) !== 0;
  }

  get tensors(): boolean {
    return this.#owner.setting.level & TRACE_LEVEL_TENSORS ? this.#owner.otel === undefined : false;
  }

  /** An ensemble step's trace, a child of this one. */
  spawnChild(): InferenceTrace {
    return new InferenceTrace(this.#owner, this.id, this);
  }

  /** REQUEST_START: the model took the request; the trace stays open until `requestEnd`. */
  requestStart(modelName: string, modelVersion: bigint, requestId: string, ns: number): void {
    if (this.#started) return;
    this.#started = true;
    this.#owner.retain();
    if (!this.timestamps) return;
    const otel = this.#owner.otel;
    if (otel !== undefined) {
      const parent = (this.#parent === undefined ? undefined : this.#parent.#requestSpan) ?? this.#owner.rootSpan;
      const span = otel.startSpan(modelName, ns, parent);
      span.setAttribute('triton.model_name', modelName);
      span.setAttribute('triton.model_version', Number(modelVersion));
      span.setAttribute('triton.trace_id', this.id);
      span.setAttribute('triton.trace_parent_id', this.parentId);
      if (requestId !== '') span.setAttribute('triton.request_id', requestId);
      span.addEvent('REQUEST_START', otel.time(ns));
      this.#requestSpan = span;
      return;
    }
    this.text.header(this.id, modelFields(modelName, modelVersion), requestId, this.parentId);
    this.text.timestamp(this.id, 'REQUEST_START', ns);
  }

  /** QUEUE_START, COMPUTE_START, ... (not REQUEST_START / REQUEST_END, which open and close the trace). */
  report(activity: string, ns: number): void {
    if (!this.#started || !this.timestamps) return;
    const otel = this.#owner.otel;
    if (otel === undefined) {
      this.text.timestamp(this.id, activity, ns);
      return;
    }
    if (activity === 'COMPUTE_START') this.#computeSpan = otel.startSpan('compute', ns, this.#requestSpan);
    const span = activity.startsWith('COMPUTE_') ? this.#computeSpan : this.#requestSpan;
    span?.addEvent(activity, otel.time(ns));
    if (activity === 'COMPUTE_END') this.#computeSpan?.end(otel.time(ns));
  }

  /** TENSOR_QUEUE_INPUT / TENSOR_BACKEND_OUTPUT at the TENSORS level (Triton mode only, as in Triton). */
  reportTensors(activity: TensorActivity, tensors: readonly Tensor[]): void {
    if (!this.#started || !this.tensors) return;
    for (const tensor of tensors) {
      const body = `"name":${JSON.stringify(tensor.name)},"data":${JSON.stringify(formatTensorData(tensor))},"shape":"${tensor.shape.join(',')}","dtype":"${tensor.datatype}"`;
      this.text.entry(`{"id":${this.id},"activity":"${activity}","tensor":{${body}}}`);
    }
  }

  /** REQUEST_END: the model is done with the request (success or failure). */
  requestEnd(ns: number): void {
    if (!this.#started) return;
    if (this.timestamps) {
      const otel = this.#owner.otel;
      if (otel === undefined) this.text.timestamp(this.id, 'REQUEST_END', ns);
      else {
        this.#requestSpan?.addEvent('REQUEST_END', otel.time(ns));
        this.#requestSpan?.end(otel.time(ns));
      }
    }
    this.#owner.release();
  }
}
