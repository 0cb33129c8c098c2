export * from './auditLog';
