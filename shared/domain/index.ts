export * from './ids';
export * from './clock';
export * from './allowList';
export * from './subjectPrefixes';
