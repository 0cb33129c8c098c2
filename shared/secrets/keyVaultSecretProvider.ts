import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import type { SecretKey, SecretProvider } from './secretProvider';

/** Key Vault secret names allow letters, digits and dashes: the app's `_` becomes `-`. */
export function keyVaultNameOf(name: SecretKey): string {
  return name.replace(/_/g, '-');
}

/** Secrets from Key Vault, read with the app's identity (DefaultAzureCredential). */
export class KeyVaultSecretProvider implements SecretProvider {
  private readonly client: SecretClient;

  constructor(vaultUrl: string, credential: TokenCredential = new DefaultAzureCredential(), options?: SecretClientOptions) {
    this.client = new SecretClient(vaultUrl, credential, options);
  }

  async get(name: SecretKey): Promise<string | undefined> {
    try {
      const secret = await this.client.getSecret(keyVaultNameOf(name));
      return secret.value?.trim() ? secret.value : undefined;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }
}
