export * from './identityLinks';
export * from './person';
export * from './partitions';
export * from './migration';
