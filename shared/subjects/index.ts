export * from './documents';
export * from './subjectStore';
