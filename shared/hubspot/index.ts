export * from './hubspotClient';
export * from './contacts';
