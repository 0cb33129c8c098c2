// Cosmos DB (NoSQL API): database `flowkeeper` and its containers, as shared/cosmos/cosmosStore.ts declares them.
//
// - Every container has `defaultTtl: -1`: TTL is on, and each document sets its own lifetime with `ttl`.
// - Local (key) auth is off: the app reaches the data plane with its identity only (SQL role assignment to
//   Cosmos DB Built-in Data Contributor in access.bicep). Metadata writes (databases, containers) go through
//   Azure Resource Manager only, i.e. through this file.
// - Continuous backup with the shortest window (7 days). A backup cannot be purged item by item, so an erased
//   subject may live on in the backup for up to 7 days; after any restore, the erasure tombstones (keyed hashes
//   in `markers`) are re-applied before the app serves traffic (docs/operations.md, "Backups and erasure").
// - `subjects` and `markers` add a composite index (tenantId, expiresAt) for the retention sweep to the default
//   indexing policy. No query orders by two or more properties, so no composite index is required anywhere
//   (test/infra/rules.ts checks both). Changing an indexing policy re-indexes online; queries keep working.

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param accountName string

@minValue(1000)
param maxThroughput int

param enableCustomerManagedKeys bool
param cmkIdentityId string
param cmkKeyUri string

@description('No public network access: reached through private endpoints only (network.bicep).')
param networkIsolation bool

resource account 'Microsoft.DocumentDB/databaseAccounts@2025-10-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  identity: enableCustomerManagedKeys ? {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${cmkIdentityId}': {}
    }
  } : null
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    enableAutomaticFailover: false
    enableMultipleWriteLocations: false
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: 'Continuous7Days'
      }
    }
    // Customer-managed key (optional): versionless key URI, read with the user-assigned identity.
    keyVaultKeyUri: enableCustomerManagedKeys ? cmkKeyUri : null
    defaultIdentity: enableCustomerManagedKeys ? 'UserAssignedIdentity=${cmkIdentityId}' : 'FirstPartyIdentity'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2025-10-15' = {
  parent: account
  name: 'flowkeeper'
  properties: {
    resource: {
      id: 'flowkeeper'
    }
    options: {
      autoscaleSettings: {
        maxThroughput: maxThroughput
      }
    }
  }
}

// A subject's personal data, one logical partition per subject: `/pk` = `<tenantId>|<waId>`.
resource subjects 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-10-15' = {
  parent: database
  name: 'subjects'
  properties: {
    resource: {
      id: 'subjects'
      partitionKey: {
        paths: [
          '/pk'
        ]
        kind: 'Hash'
        version: 2
      }
      defaultTtl: -1
      // The default policy (every path indexed, `_etag` excluded) plus one composite index for the retention
      // sweep's query, `WHERE c.tenantId = @tenantId AND c.expiresAt <= @now` (shared/retention/expiredDocuments.ts):
      // the equality path first, the range path last. Cross-partition, one fan-out per tenant per night.
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
        ]
        compositeIndexes: [
          [
            {
              path: '/tenantId'
              order: 'ascending'
            }
            {
              path: '/expiresAt'
              order: 'ascending'
            }
          ]
        ]
      }
    }
  }
}

// Privacy requests and their per-store tasks; the subject only as keyed hash.
resource privacyRequests 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-10-15' = {
  parent: database
  name: 'privacyRequests'
  properties: {
    resource: {
      id: 'privacyRequests'
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
        version: 2
      }
      defaultTtl: -1
    }
  }
}

// Append-only audit events, no personal data.
resource audit 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-10-15' = {
  parent: database
  name: 'audit'
  properties: {
    resource: {
      id: 'audit'
      partitionKey: {
        paths: [
          '/tenantId'
        ]
        kind: 'Hash'
        version: 2
      }
      defaultTtl: -1
    }
  }
}

// Tenant configuration.
resource tenants 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-10-15' = {
  parent: database
  name: 'tenants'
  properties: {
    resource: {
      id: 'tenants'
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
        version: 2
      }
      defaultTtl: -1
    }
  }
}

// Keyed-hash markers: suppression list, erasure tombstones, idempotency keys, checkpoints.
resource markers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-10-15' = {
  parent: database
  name: 'markers'
  properties: {
    resource: {
      id: 'markers'
      partitionKey: {
        paths: [
          '/pk'
        ]
        kind: 'Hash'
        version: 2
      }
      defaultTtl: -1
      // The default policy (every path indexed, `_etag` excluded) plus one composite index for the retention
      // sweep's query, `WHERE c.tenantId = @tenantId AND c.expiresAt <= @now` (shared/retention/expiredDocuments.ts):
      // the equality path first, the range path last. Cross-partition, one fan-out per tenant per night.
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
        ]
        compositeIndexes: [
          [
            {
              path: '/tenantId'
              order: 'ascending'
            }
            {
              path: '/expiresAt'
              order: 'ascending'
            }
          ]
        ]
      }
    }
  }
}

output accountName string = account.name
output accountId string = account.id
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
