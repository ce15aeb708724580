/** The analyzer's defaults, one frozen table (search bounds in search/space.ts). */
import { SEARCH_DEFAULTS } from '../search/space.js';

export const ANALYZER_DEFAULTS = Object.freeze({
  ...SEARCH_DEFAULTS,
  dynamicBatching: 'on,off',
  queueDelaysUs: '0',
  clientProtocol: 'grpc',
  perfWindowMs: 500,
  maxTrials: 4,
  stabilityPercentage: 10,
  numConfigsPerModel: 3,
});
