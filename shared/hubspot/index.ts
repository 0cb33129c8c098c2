export * from './hubspotClient';
export * from './contacts';
export * from './conversations';
export * from './hubspotSync';
