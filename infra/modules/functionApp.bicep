// The Function App: Flex Consumption (FC1) on Linux, Node 22, system-assigned identity, HTTPS only,
// TLS 1.2, FTP off and basic publishing credentials (FTP and SCM) off, App Service Authentication with
// Microsoft Entra ID.
//
// App settings: every setting the app reads (shared/config/settings.ts), identity-based, never a key or a
// connection string with a secret in it. The secrets (WHATSAPP_APP_SECRET, WHATSAPP_APP_SECRET_PREVIOUS,
// WHATSAPP_VERIFY_TOKEN, WHATSAPP_ACCESS_TOKEN, FLOWS_PRIVATE_KEY, FLOWS_PRIVATE_KEY_PASSPHRASE,
// SUBJECT_HASH_KEY, DATA_ENCRYPTION_KEY, and the per-tenant HubSpot tokens) have no app setting at all: the app
// reads them from Key Vault through KEY_VAULT_URL at run time (secret names with `-` for `_`, e.g.
// WHATSAPP-APP-SECRET), cached for SECRET_CACHE_SECONDS, so a rotated secret is picked up without a restart.
//
// Runtime: Node.js 22. Node.js 20 reached the end of its Azure Functions support on 30 April 2026; Node.js 22 is
// supported until 30 April 2027 (Node's own end of life) and is the Flex Consumption plan's default Node stack
// ("Supported languages in Azure Functions", https://learn.microsoft.com/azure/azure-functions/supported-languages,
// and "Language runtime support policy", https://learn.microsoft.com/azure/azure-functions/language-support-policy,
// both read 2026-12-04). Plan the move to Node.js 24 before April 2027.
//
// Network: with an `appSubnetId` (networkIsolation, network.bicep) the app joins that subnet (VNet integration) and
// reaches Cosmos DB, Storage, Service Bus and Key Vault through their private endpoints; its own endpoint stays
// public for WhatsApp's webhooks.

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param planName string
param appName string
param runtimeStorageAccountName string
param runtimeBlobEndpoint string
param deploymentContainerName string

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@allowed([
  2048
  4096
])
param instanceMemoryMB int

param appInsightsConnectionString string
param cosmosEndpoint string
param mediaBlobServiceUri string
param serviceBusFullyQualifiedNamespace string
param keyVaultUri string

@minLength(36)
@maxLength(36)
param authClientId string

param authTenantId string

@description('Subnet (delegated to Microsoft.App/environments) the app joins for VNet integration; empty: none.')
param appSubnetId string

@description('Name of the azd service (azure.yaml) deployed to this app: azd finds the app by this tag.')
param azdServiceName string = 'api'

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: appName
  location: location
  kind: 'functionapp,linux'
  tags: union(tags, {
    'azd-service-name': azdServiceName
  })
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${runtimeBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    // Functions host storage, identity-based (Flex Consumption): the account name and the app's identity.
    AzureWebJobsStorage__accountName: runtimeStorageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    // Not a secret: local auth is off on the component; telemetry is sent with the app's identity.
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'

    // Identity-based connections (the Functions conventions `__accountEndpoint`, `__blobServiceUri`,
    // `__fullyQualifiedNamespace`): an endpoint each, the credential is the app's identity.
    COSMOS_CONNECTION__accountEndpoint: cosmosEndpoint
    COSMOS_DATABASE: 'flowkeeper'
    MEDIA_STORAGE__blobServiceUri: mediaBlobServiceUri
    SERVICEBUS_CONNECTION__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace

    // Secrets come from here at run time (see the comment at the top of this file).
    KEY_VAULT_URL: keyVaultUri
    SECRET_CACHE_SECONDS: '300'

    GRAPH_API_BASE_URL: 'https://graph.facebook.com/v23.0'
    HUBSPOT_API_BASE_URL: 'https://api.hubapi.com'

    // Six-field NCRONTAB, UTC (Linux plans ignore WEBSITE_TIME_ZONE).
    RETENTION_SCHEDULE: '0 30 2 * * *'
    RECONCILER_SCHEDULE: '0 */1 * * * *'
    // Hourly at :15: the windows of the overdue and queue-dead-lettered alerts (alerts.bicep) assume it.
    DEADLINE_WATCH_SCHEDULE: '0 15 * * * *'
    DEADLINE_ALERT_DAYS: '7'
    // The erasure drill, daily at 04:00 UTC, for the tenants that opted in (drills.enabled); its alert
    // (alerts.bicep, erasure-drill-failed) looks at the day's drills every 15 minutes.
    ERASURE_DRILL_SCHEDULE: '0 0 4 * * *'

    // Request bodies: Meta's webhook payloads are up to 3 MB (read as 3 MiB). The host refuses anything
    // larger (413) before the worker sees it (its default is 100 MB); the app's own limit is the same figure.
    MAX_WEBHOOK_BYTES: '3145728'
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '3145728'

    // App Service Authentication validates the token and injects x-ms-client-principal; the app must never
    // trust that header as given in Azure.
    LOCAL_DEV_AUTH: 'false'
  }
}

// App Service Authentication (Easy Auth) with Microsoft Entra ID. Unauthenticated requests are let through
// (AllowAnonymous): Meta's WhatsApp webhooks and Flows requests carry no Entra token and are verified by the app
// (signature, encryption), and the app enforces the roles on admin routes itself. What this gives the app is a
// validated token turned into x-ms-client-principal, with any such header a caller sends stripped.
resource authSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

// Basic (user name and password) publishing credentials off for FTP and for the SCM (Kudu) site: deployments
// authenticate with Microsoft Entra ID (az CLI, Core Tools).
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output principalId string = functionApp.identity.principalId
