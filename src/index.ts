/**
 * The gateway as a library: build one from a Config without starting a
 * server on import. `npm start` runs src/main.ts (dist/main.js) instead.
 */
export { createGateway, LISTENERS, type Gateway, type GatewayOptions, type Listener } from './gateway';
export { ConfigError, loadConfig, redactedConfigSummary, type Config } from './config';
