/** The Blob Storage adapters: containers and naming, and the privacy registry's media and export stores. */
export * from './blobStore';
export * from './mediaDataStore';
export * from './blobDeletes';
export * from './exportDataStore';
export * from './mediaBlobs';
export * from './blobSweepTarget';
