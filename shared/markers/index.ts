export * from './markerStore';
