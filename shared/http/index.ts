export * from './responses';
export * from './principal';
