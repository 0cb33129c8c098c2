// Key Vault: the app's secrets, per-tenant HubSpot tokens, and (optionally) the customer-managed keys.
//
// Access is Azure RBAC only (no access policies). Soft delete and purge protection are on: a deleted or
// overwritten secret can be recovered by an operator, and nobody can purge the vault or a key early, which
// customer-managed keys require. The secrets hold no personal data, so their soft delete does not touch the
// erasure promise.
//
// Secrets are not created here (a template must never carry their values). Operators set them after the first
// deployment, with the names the app reads (`_` becomes `-`): WHATSAPP-APP-SECRET, WHATSAPP-APP-SECRET-PREVIOUS,
// WHATSAPP-VERIFY-TOKEN, WHATSAPP-ACCESS-TOKEN, FLOWS-PRIVATE-KEY, FLOWS-PRIVATE-KEY-PASSPHRASE,
// SUBJECT-HASH-KEY, DATA-ENCRYPTION-KEY, and HUBSPOT-TOKEN-<TENANT-ID> per tenant (docs/operations.md).

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param vaultName string

@description('Create the user-assigned identity and the keys that Cosmos DB and the media storage account encrypt with.')
param enableCustomerManagedKeys bool

param cmkIdentityName string

@description('No public network access: reached through private endpoints only (network.bicep).')
param networkIsolation bool

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: networkIsolation ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Customer-managed keys (optional). A user-assigned identity, rather than each service's own identity, so the
// role on the vault exists before Cosmos DB and the storage account are created with the key.
resource cmkIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = if (enableCustomerManagedKeys) {
  name: cmkIdentityName
  location: location
  tags: tags
}

resource cosmosKey 'Microsoft.KeyVault/vaults/keys@2025-05-01' = if (enableCustomerManagedKeys) {
  parent: vault
  name: 'cosmos-cmk'
  properties: {
    kty: 'RSA'
    keySize: 3072
  }
}

resource storageKey 'Microsoft.KeyVault/vaults/keys@2025-05-01' = if (enableCustomerManagedKeys) {
  parent: vault
  name: 'storage-cmk'
  properties: {
    kty: 'RSA'
    keySize: 3072
  }
}

// Key Vault Crypto Service Encryption User: get, wrap and unwrap keys, nothing else.
resource cmkCryptoUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableCustomerManagedKeys) {
  name: guid(vault.id, cmkIdentityName, 'e147488a-f6f5-4113-8e2d-b22465e65bf6')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'e147488a-f6f5-4113-8e2d-b22465e65bf6')
    principalId: cmkIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output vaultName string = vault.name
output vaultId string = vault.id
output vaultUri string = vault.properties.vaultUri
output cmkIdentityId string = enableCustomerManagedKeys ? cmkIdentity.id : ''
// Versionless key URI: Cosmos DB follows key rotation on its own.
output cosmosKeyUri string = enableCustomerManagedKeys ? cosmosKey.properties.keyUri : ''
output storageKeyName string = enableCustomerManagedKeys ? storageKey.name : ''
