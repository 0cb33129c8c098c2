export * from './cosmosStore';
