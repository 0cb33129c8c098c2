export * from './secretProvider';
export { KeyVaultSecretProvider, keyVaultNameOf } from './keyVaultSecretProvider';
