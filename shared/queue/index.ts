export * from './queuePort';
export { InProcessQueue, type InProcessQueueOptions } from './inProcessQueue';
export { ServiceBusQueue, type ServiceBusConnection } from './serviceBusQueue';
