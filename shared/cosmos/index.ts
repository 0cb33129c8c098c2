/**
 * The Cosmos DB adapters: the client and containers, and one repository per container, each
 * implementing a port its feature declares (tenants, audit, markers, subjects, messages, privacy requests).
 */
export * from './cosmosStore';
export * from './auditLog';
export * from './markerStore';
export * from './tenantRepository';
export * from './subjectRepository';
export * from './messageStore';
export * from './privacyRequestRepository';
export * from './expiredDocuments';
export * from './requestDeadlines';
export * from './metricsSource';
export * from './requestList';
export * from './hubspotObjectRecords';
export * from './identityLinkStore';
export * from './legacyDocuments';
