export * from './payload';
export * from './envelope';
export * from './signature';
export * from './ports';
export * from './flowCompletion';
export { ingestMessage, messageKeyOf, optCommandOf, SEEN_MESSAGE_TTL_SECONDS, PROCESSING_LEASE_SECONDS, type MessageOutcome } from './ingestMessage';
export * from './receiveWebhook';
export * from './mediaDownload';
