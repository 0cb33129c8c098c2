export * from './dataEncryption';
export * from './subjectKeys';
