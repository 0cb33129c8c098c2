export * from './hubspotClient';
export * from './pacer';
export * from './objectRegistry';
export * from './contacts';
export * from './conversations';
export * from './contactDirectory';
export * from './contactDataStore';
export * from './hubspotSync';
