/**
 * In-memory doubles of the application's ports, with the semantics of the real adapters. The unit tests
 * use them; bench/webhook.ts uses them too (it measures the webhook handler without a database), which
 * is why they are one import away from bench/ and nowhere in shared/.
 */
export * from './subjectStore';
export * from './stores';
export * from './privacy';
export * from './clockAndTelemetry';
export * from './hubspotObjects';
export * from './webhookWorld';
