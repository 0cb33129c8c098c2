export * from './blobStore';
