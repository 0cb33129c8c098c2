export * from './responses';
export * from './principal';
export * from './adminAuth';
export * from './unavailable';
export * from './adminRoute';
