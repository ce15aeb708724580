/** The analyzer's defaults, one frozen table (search bounds in search/space.ts). */
import { SEARCH_DEFAULTS } from '../search/space.js';

export const ANALYZER_DEFAULTS = Object.freeze({
  ...SEARCH_DEFAULTS,
  dynamicBatching: SEARCH_DEFAULTS.dynamicBatching.map((on) => (on ? 'on' : 'off')).join(','),
  queueDelaysUs: SEARCH_DEFAULTS.queueDelaysUs.join(','),
  clientProtocol: 'grpc',
  perfWindowMs: 500,
  maxTrials: 4,
  stabilityPercentage: 10,
  numConfigsPerModel: 3,
});
