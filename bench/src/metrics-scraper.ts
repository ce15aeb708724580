import { httpOnce } from './infer-calls.js';

const SCRAPE_INTERVAL_MS = 1000;

/**
 * Reads /metrics every second until stopped, as Prometheus would while a window loads the server;
 * returns how many scrapes ran and the last one's bytes. Without a metrics port it does nothing.
 */
export function scraper(metricsPort: number | undefined): { stop(): Promise<{ scrapes: number; bytes: number }> } {
  if (metricsPort === undefined) return { stop: async () => ({ scrapes: 0, bytes: 0 }) };
  let scrapes = 0;
  let bytes = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    inFlight = httpOnce(metricsPort, 'GET', '/metrics').then((answer) => {
      scrapes++;
      bytes = answer.body.length;
    });
  }, SCRAPE_INTERVAL_MS);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return { scrapes, bytes };
    },
  };
}
