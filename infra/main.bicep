// Flowkeeper infrastructure: one resource group, everything in UK South, identity-based access everywhere.
//
//   azd up                                   (azure.yaml; parameters from infra/main.bicepparam and the azd environment)
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/env/prod.bicepparam
//
// The modules are local files, one per concern, and not Azure Verified Modules from the public registry
// (br/public:avm/...): the policy test (test/infra/policy.test.ts) reads every setting of every resource
// from these files, which it could not do through a registry reference. docs/operations.md describes the
// deployment, where each app setting comes from, and the operator runbook.

targetScope = 'resourceGroup'

@description('Region of every resource. Only UK South is allowed: personal data stays in the UK (data residency). No default: the linter rule no-hardcoded-location (bicepconfig.json) wants the region passed in, and every parameter file sets it.')
@allowed([
  'uksouth'
])
param location string

@description('Short environment name (dev, test, prod, ...), part of every resource name.')
@minLength(2)
@maxLength(6)
param environmentName string

@description('Client id (application id) of the Microsoft Entra app registration that App Service Authentication validates tokens for. Required: without App Service Authentication a caller could forge x-ms-client-principal.')
@minLength(36)
@maxLength(36)
param authClientId string

@description('Microsoft Entra tenant that issues the admin tokens.')
param authTenantId string = tenant().tenantId

@description('Days after which the lifecycle policy deletes media blobs (the outer bound; tenants may set a shorter retention, enforced by the app).')
@minValue(1)
@maxValue(3650)
param mediaRetentionDays int = 30

@description('Days after which the lifecycle policy deletes access exports.')
@minValue(1)
@maxValue(365)
param exportRetentionDays int = 7

@description('Days every log table (App Insights, and the access logs of Key Vault, Cosmos DB, Storage and Service Bus) keeps its rows: 7-14, as the product promises ("logs kept 7 to 14 days"). The workspace default sits at its 30-day minimum and no table inherits it.')
@minValue(7)
@maxValue(14)
param logRetentionDays int = 14

@description('Private networking: Cosmos DB, both storage accounts, Service Bus (Premium) and Key Vault behind private endpoints with public access off, the Function App on VNet integration. On in prod; costs more (Service Bus Premium). See docs/operations.md, "Network isolation".')
param networkIsolation bool = false

@description('App Insights ingestion sampling. Keep 100: the alert rules count individual trace lines.')
@minValue(1)
@maxValue(100)
param appInsightsSamplingPercentage int = 100

@description('Autoscale maximum RU/s shared by the Cosmos containers.')
@minValue(1000)
param cosmosMaxThroughput int = 1000

@description('Flex Consumption: maximum instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Flex Consumption: memory of one instance.')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Redundancy of both storage accounts.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param storageSku string = 'Standard_ZRS'

@description('Encrypt Cosmos DB and the media storage account with customer-managed keys held in the Key Vault (off by default; decide before the first deployment, see docs/operations.md).')
param enableCustomerManagedKeys bool = false

@description('E-mail address that receives the alerts; empty: alerts show in the portal only.')
param alertEmail string = ''

@description('Webhook signature rejections within 15 minutes that raise an alert (a few are internet noise).')
@minValue(1)
param signatureRejectionThreshold int = 10

@description('Address of the operations runbook (docs/operations.md) as published for your operators, without a #section; the alert descriptions link its sections. Empty: they name docs/operations.md#<section>.')
param runbookUrl string = ''

@description('Object id of the operators (a group) who set Key Vault secrets, replay dead-lettered messages and read the monitoring (workbook, alerts, logs); empty: grant roles by hand.')
param operatorPrincipalId string = ''

@description('Kind of principal operatorPrincipalId names.')
@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'Group'

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var namePrefix = 'fk-${environmentName}'
var tags = {
  application: 'flowkeeper'
  environment: environmentName
  'data-residency': location
}
var deploymentContainerName = 'app-package'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    workspaceName: 'log-${namePrefix}-${resourceToken}'
    appInsightsName: 'appi-${namePrefix}-${resourceToken}'
    retentionInDays: logRetentionDays
    samplingPercentage: appInsightsSamplingPercentage
  }
}

module network 'modules/network.bicep' = if (networkIsolation) {
  name: 'network'
  params: {
    location: location
    tags: tags
    vnetName: 'vnet-${namePrefix}-${resourceToken}'
    cosmosAccountId: cosmos.outputs.accountId
    runtimeStorageAccountId: storage.outputs.runtimeAccountId
    mediaStorageAccountId: storage.outputs.mediaAccountId
    serviceBusNamespaceId: serviceBus.outputs.namespaceId
    keyVaultId: keyVault.outputs.vaultId
  }
}

module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  params: {
    workspaceId: monitoring.outputs.workspaceId
    keyVaultName: keyVault.outputs.vaultName
    cosmosAccountName: cosmos.outputs.accountName
    mediaStorageAccountName: storage.outputs.mediaAccountName
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    serviceBusPremium: networkIsolation
  }
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'keyVault'
  params: {
    location: location
    tags: tags
    vaultName: 'kvfk${environmentName}${take(resourceToken, 12)}'
    enableCustomerManagedKeys: enableCustomerManagedKeys
    cmkIdentityName: 'id-${namePrefix}-cmk-${resourceToken}'
    networkIsolation: networkIsolation
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    runtimeAccountName: 'stfkrt${resourceToken}'
    mediaAccountName: 'stfkmd${resourceToken}'
    skuName: storageSku
    deploymentContainerName: deploymentContainerName
    mediaRetentionDays: mediaRetentionDays
    exportRetentionDays: exportRetentionDays
    enableCustomerManagedKeys: enableCustomerManagedKeys
    cmkIdentityId: keyVault.outputs.cmkIdentityId
    keyVaultUri: keyVault.outputs.vaultUri
    cmkKeyName: keyVault.outputs.storageKeyName
    networkIsolation: networkIsolation
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    location: location
    tags: tags
    accountName: 'cosmos-${namePrefix}-${resourceToken}'
    maxThroughput: cosmosMaxThroughput
    enableCustomerManagedKeys: enableCustomerManagedKeys
    cmkIdentityId: keyVault.outputs.cmkIdentityId
    cmkKeyUri: keyVault.outputs.cosmosKeyUri
    networkIsolation: networkIsolation
  }
}

module serviceBus 'modules/serviceBus.bicep' = {
  name: 'serviceBus'
  params: {
    location: location
    tags: tags
    namespaceName: 'sb-${namePrefix}-${resourceToken}'
    networkIsolation: networkIsolation
  }
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'functionApp'
  params: {
    location: location
    tags: tags
    planName: 'plan-${namePrefix}-${resourceToken}'
    appName: 'func-${namePrefix}-${resourceToken}'
    runtimeStorageAccountName: storage.outputs.runtimeAccountName
    runtimeBlobEndpoint: storage.outputs.runtimeBlobEndpoint
    deploymentContainerName: deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    cosmosEndpoint: cosmos.outputs.endpoint
    mediaBlobServiceUri: storage.outputs.mediaBlobEndpoint
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    keyVaultUri: keyVault.outputs.vaultUri
    authClientId: authClientId
    authTenantId: authTenantId
    appSubnetId: networkIsolation ? network!.outputs.appSubnetId : ''
  }
}

module access 'modules/access.bicep' = {
  name: 'access'
  params: {
    appPrincipalId: functionApp.outputs.principalId
    runtimeStorageAccountName: storage.outputs.runtimeAccountName
    mediaStorageAccountName: storage.outputs.mediaAccountName
    cosmosAccountName: cosmos.outputs.accountName
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    keyVaultName: keyVault.outputs.vaultName
    appInsightsName: monitoring.outputs.appInsightsName
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    namePrefix: namePrefix
    appInsightsId: monitoring.outputs.appInsightsId
    serviceBusNamespaceId: serviceBus.outputs.namespaceId
    alertEmail: alertEmail
    signatureRejectionThreshold: signatureRejectionThreshold
    runbookUrl: runbookUrl
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output functionAppPrincipalId string = functionApp.outputs.principalId
output keyVaultName string = keyVault.outputs.vaultName
output keyVaultUri string = keyVault.outputs.vaultUri
output cosmosAccountName string = cosmos.outputs.accountName
output serviceBusNamespaceName string = serviceBus.outputs.namespaceName
output mediaStorageAccountName string = storage.outputs.mediaAccountName
output appInsightsName string = monitoring.outputs.appInsightsName
output logAnalyticsWorkspaceName string = monitoring.outputs.workspaceName
