export * from './tenant';
export * from './tenantRepository';
export * from './configureTenant';
