import { nowNs } from '../../util/clock.js';
import { OtelExport, type TraceCarrier } from './otel-export.js';
import { RequestTrace } from './request-trace.js';
import { TRACE_LEVEL_DISABLED } from './trace-setting.js';
import { TraceSettings, type TraceOptions, type TraceSettingUpdate, type TraceSettingView } from './trace-manager.js';

/**
 * The server's tracing: settings, sampling, and the OpenTelemetry exporter in that mode. Sampling is
 * one lookup and a level check for an untraced request.
 */
export class Tracer {
  readonly #settings: TraceSettings;
  readonly #otel: OtelExport | undefined;

  constructor(options: TraceOptions, onError: (message: string) => void) {
    this.#settings = new TraceSettings(options, onError);
    this.#otel = options.mode === 'opentelemetry' ? new OtelExport(options.config.get('opentelemetry') ?? []) : undefined;
  }

  /**
   * A trace for a request to `model` if this one is sampled (every rate-th while the count lasts),
   * or if it carries a W3C trace context in OpenTelemetry mode; undefined otherwise.
   */
  start(model: string, carrier: TraceCarrier): RequestTrace | undefined {
    const setting = this.#settings.settingFor(model);
    if (setting.level === TRACE_LEVEL_DISABLED) return undefined;
    const propagated = this.#otel !== undefined && setting.mode === 'opentelemetry' ? this.#otel.extract(carrier) : undefined;
    if (!setting.sample(propagated !== undefined)) return undefined;
    return new RequestTrace(setting, this.#otel, propagated, nowNs());
  }

  view(model: string): TraceSettingView {
    return this.#settings.view(model);
  }

  update(model: string, update: TraceSettingUpdate): TraceSettingView {
    this.#settings.update(model, update);
    return this.#settings.view(model);
  }

  /** Writes the traces still held, closes the file, and exports the spans still queued. */
  async close(): Promise<void> {
    await this.#settings.close();
    await this.#otel?.shutdown();
  }
}
