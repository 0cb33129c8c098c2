// Storage: two accounts with different duties.
//
// - runtime: the Functions host's own storage (AzureWebJobsStorage: leases, timer checkpoints) and the Flex
//   Consumption deployment package. No personal data, so blob soft delete stays on here.
// - media: WhatsApp media under `media/<tenantId>/<subject-hash>/...` and access exports under `exports/`.
//   Personal data, so soft delete and versioning are off (see the justification below) and a lifecycle policy
//   deletes what the app has not already erased once the retention has passed.
//
// Both: TLS 1.2, HTTPS only, no public blob access, no shared keys (Entra ID and RBAC only; the app and the
// Functions host use the app's identity, roles in access.bicep); with networkIsolation, no public network access
// (private endpoints for blob in network.bicep).

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param runtimeAccountName string
param mediaAccountName string

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param skuName string

param deploymentContainerName string

@description('Days after the last modification when the lifecycle policy deletes a media blob.')
@minValue(1)
param mediaRetentionDays int

@description('Days after the last modification when the lifecycle policy deletes an access export.')
@minValue(1)
param exportRetentionDays int

param enableCustomerManagedKeys bool

@description('No public network access: reached through private endpoints only (network.bicep).')
param networkIsolation bool
param cmkIdentityId string
param keyVaultUri string
param cmkKeyName string

resource runtimeAccount 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: runtimeAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: networkIsolation ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource runtimeBlobService 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' = {
  parent: runtimeAccount
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = {
  parent: runtimeBlobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource mediaAccount 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: mediaAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  identity: enableCustomerManagedKeys ? {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${cmkIdentityId}': {}
    }
  } : null
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: networkIsolation ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      // Customer-managed key (optional): the key in Key Vault, read with the user-assigned identity.
      keySource: enableCustomerManagedKeys ? 'Microsoft.Keyvault' : 'Microsoft.Storage'
      identity: enableCustomerManagedKeys ? {
        userAssignedIdentity: cmkIdentityId
      } : null
      keyvaultproperties: enableCustomerManagedKeys ? {
        keyname: cmkKeyName
        keyvaulturi: keyVaultUri
      } : null
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

// justification: blob soft delete, container soft delete, versioning, change feed and point-in-time restore
// are off for the media account on purpose (PSRule rule Azure.Storage.SoftDelete would ask for soft delete).
// An erasure must be final: with soft delete or versioning on, a deleted blob stays recoverable for the
// retention period, and a lifecycle "delete" only soft-deletes, so a subject's media would outlive the
// erasure that reported it gone. Accidental deletion is guarded instead by RBAC (only the app's identity
// writes here) and by the app's own erasure plan, which deletes one subject prefix at a time.
resource mediaBlobService 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' = {
  parent: mediaAccount
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: false
    }
    containerDeleteRetentionPolicy: {
      enabled: false
    }
    isVersioningEnabled: false
    changeFeed: {
      enabled: false
    }
    restorePolicy: {
      enabled: false
    }
  }
}

resource mediaContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = {
  parent: mediaBlobService
  name: 'media'
  properties: {
    publicAccess: 'None'
  }
}

resource exportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = {
  parent: mediaBlobService
  name: 'exports'
  properties: {
    publicAccess: 'None'
  }
}

// The outer bound of media and export lifetime. The app erases a subject's media at once on request and
// applies each tenant's (shorter) retention itself; this policy catches whatever is left. Without soft delete
// and versioning (above) the delete is permanent.
resource mediaLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2025-06-01' = {
  parent: mediaAccount
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-media-after-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'media/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: mediaRetentionDays
                }
              }
              snapshot: {
                delete: {
                  daysAfterCreationGreaterThan: mediaRetentionDays
                }
              }
            }
          }
        }
        {
          name: 'delete-exports-after-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'exports/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: exportRetentionDays
                }
              }
              snapshot: {
                delete: {
                  daysAfterCreationGreaterThan: exportRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [
    mediaContainer
    exportsContainer
  ]
}

output runtimeAccountName string = runtimeAccount.name
output runtimeAccountId string = runtimeAccount.id
output runtimeBlobEndpoint string = runtimeAccount.properties.primaryEndpoints.blob
output mediaAccountName string = mediaAccount.name
output mediaAccountId string = mediaAccount.id
output mediaBlobEndpoint string = mediaAccount.properties.primaryEndpoints.blob
