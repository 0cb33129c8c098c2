export * from './ids';
export * from './clock';
