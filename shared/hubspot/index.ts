export * from './hubspotClient';
export * from './contacts';
export * from './conversations';
export * from './contactDirectory';
export * from './contactDataStore';
export * from './hubspotSync';
