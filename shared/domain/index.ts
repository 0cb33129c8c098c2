export * from './ids';
export * from './clock';
export * from './flowScreen';
export * from './subjectPrefixes';
