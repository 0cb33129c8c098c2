export * from './services';
export * from './repositories';
