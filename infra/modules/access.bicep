// Role assignments: what the Function App's system-assigned identity may do, and nothing more. Kept in one
// module because the identity exists only once the app does, while the app's settings need the other
// resources first.
//
// Role definition ids (built-in, the same in every subscription) are written out, with their names, so a
// reader and the policy test see exactly which role goes where.

@description('Principal id of the Function App\'s system-assigned identity.')
param appPrincipalId string

param runtimeStorageAccountName string
param mediaStorageAccountName string
param cosmosAccountName string
param serviceBusNamespaceName string
param keyVaultName string
param appInsightsName string

@description('Object id of the operators (a group); empty: no operator roles are assigned here.')
param operatorPrincipalId string

@allowed([
  'Group'
  'User'
  'ServicePrincipal'
])
param operatorPrincipalType string

resource runtimeStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: runtimeStorageAccountName
}

resource mediaStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: mediaStorageAccountName
}

resource cosmosAccount 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

resource serviceBusNamespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Storage Blob Data Owner on the runtime account: the Functions host (leases, timer checkpoints) and the Flex
// Consumption deployment package.
resource runtimeBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(runtimeStorage.id, appPrincipalId, 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
  scope: runtimeStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Contributor on the media account: write media and exports, delete a subject's prefix.
resource mediaBlobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(mediaStorage.id, appPrincipalId, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: mediaStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Cosmos DB Built-in Data Contributor (data plane; local auth is off on the account): read and write items.
// It cannot create or change databases or containers: those come from cosmos.bicep only.
resource cosmosDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: cosmosAccount
  name: guid(cosmosAccount.id, appPrincipalId, '00000000-0000-0000-0000-000000000002')
  properties: {
    roleDefinitionId: '${cosmosAccount.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'
    principalId: appPrincipalId
    scope: cosmosAccount.id
  }
}

// Azure Service Bus Data Sender: enqueue work (and re-enqueue with a delay for backoff).
resource serviceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBusNamespace.id, appPrincipalId, '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39')
  scope: serviceBusNamespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39')
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Receiver: the queue triggers, and reading dead-letter queues for the replay.
resource serviceBusDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBusNamespace.id, appPrincipalId, '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0')
  scope: serviceBusNamespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0')
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets User: read secrets (the app never writes them).
resource keyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, '4633458b-17de-408a-b874-0445c86b69e6')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher: send telemetry with Entra ID (local auth is off on App Insights).
resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, '3913510d-42f4-4e42-8a64-420c390055eb')
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Operators (optional). Key Vault Secrets Officer: set and rotate the app's secrets.
resource operatorSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Operators (optional). Azure Service Bus Data Owner: Service Bus Explorer in the portal (peek, resend and
// delete dead-lettered messages) needs a data-plane role, since local auth is off.
resource operatorServiceBusOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(serviceBusNamespace.id, operatorPrincipalId, '090c5cfd-751d-490a-894a-3ce6f1109419')
  scope: serviceBusNamespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '090c5cfd-751d-490a-894a-3ce6f1109419')
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}
