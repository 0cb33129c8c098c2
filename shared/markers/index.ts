export * from './markerStore';
export * from './erasureFence';
