export * from './queuePort';
export { readDeadLetterCounts, readDeadLetters, type DeadLetterCounts, type DeadLetterPeek, type DeadLetterView } from './deadLetterReader';
export { InProcessQueue, type InProcessQueueOptions } from './inProcessQueue';
export { ServiceBusQueue, type ServiceBusConnection } from './serviceBusQueue';
