/**
 * Privacy outcomes you can see: the figures (completion rate, latency, re-engagement, trust coefficient,
 * ...) computed from Flowkeeper's own records, their emission as telemetry, the operator views of
 * privacy requests and dead letters (the DPO's HTML report is the CLI's: cli/reportHtml.ts). See docs/metrics.md.
 */
export * from './names';
export * from './period';
export * from './privacyMetrics';
export * from './metricsSource';
export * from './emitMetrics';
export * from './requestList';
export * from './deadLetters';
export { duration, percent, ratio } from './format';
