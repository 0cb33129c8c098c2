export * from './checkHealth';
