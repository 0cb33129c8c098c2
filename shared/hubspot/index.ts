/* The HubSpot adapter: its sources (HubSpot's OpenAPI specs and guides, with dates) are cited at the top of each module and in docs/hubspot.md "Sources". */
export * from './hubspotClient';
export * from './pacer';
export * from './objectRegistry';
export * from './contacts';
export * from './conversations';
export * from './contactDirectory';
export * from './contactDataStore';
export * from './hubspotSync';
