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

resource runtimeStorage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: runtimeStorageAccountName
}

resource mediaStorage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: mediaStorageAccountName
}

resource cosmosAccount 'Microsoft.DocumentDB/databaseAccounts@2025-10-15' existing = {
  name: cosmosAccountName
}

resource serviceBusNamespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

// The queues whose triggers run in the app (shared/queue/queuePort.ts; the same list as serviceBus.bicep).
var queueNames = [
  'media-downloads'
  'hubspot-sync'
  'privacy-requests'
  'erasure-tasks'
]

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [for queueName in queueNames: {
  parent: serviceBusNamespace
  name: queueName
}]

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
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
resource cosmosDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2025-10-15' = {
  parent: cosmosAccount
  name: guid(cosmosAccount.id, appPrincipalId, '00000000-0000-0000-0000-000000000002')
  properties: {
    roleDefinitionId: '${cosmosAccount.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'
    principalId: appPrincipalId
    scope: cosmosAccount.id
  }
}

// Service Bus. Microsoft's permissions table for the Service Bus trigger with an identity-based connection lists
// "Azure Service Bus Data Receiver, Azure Service Bus Data Owner" for the trigger and "Azure Service Bus Data Sender"
// for sending ("Azure Service Bus bindings for Azure Functions", identity-based connections,
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus, include
// functions-service-bus-permissions.md, read 2026-12-04). Data Owner is what target-based scaling needs: the scale
// monitor reads each queue's runtime properties (active and dead-letter counts) through the Service Bus
// administration client, a Manage operation that Receiver does not grant (Azure/azure-sdk-for-net pull request 31367,
// "Target base scale support", merged 2023-02; without it the extension falls back to the age of the first message).
// So: Sender and Receiver on the namespace, Data Owner on each of the four queues only (not the namespace), and no
// other Service Bus role. The policy rule servicebus-roles-for-trigger checks exactly this set.
//
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

// Azure Service Bus Data Owner on each queue the app's triggers read: target-based scaling (see above).
resource serviceBusQueueDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in queueNames: {
  name: guid(queues[i].id, appPrincipalId, '090c5cfd-751d-490a-894a-3ce6f1109419')
  scope: queues[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '090c5cfd-751d-490a-894a-3ce6f1109419')
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

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

// Operators (optional). Azure Service Bus Data Owner: Service Bus Explorer in the portal (peek, receive and delete
// dead-lettered messages) signs in with Microsoft Entra ID when local auth is off, and then needs a data-plane role;
// Data Owner covers peek, send and receive ("Use Service Bus Explorer to run data operations on Service Bus",
// https://learn.microsoft.com/azure/service-bus-messaging/explorer, read 2026-12-04). With networkIsolation on, the
// explorer also needs a network path to the namespace (docs/operations.md, "Network isolation").
resource operatorServiceBusOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(serviceBusNamespace.id, operatorPrincipalId, '090c5cfd-751d-490a-894a-3ce6f1109419')
  scope: serviceBusNamespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '090c5cfd-751d-490a-894a-3ce6f1109419')
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Operators (optional): read access to monitoring in this resource group, so the workbook, the alerts and the logs
// open for them without a role granted by hand. Built-in role ids ("Azure built-in roles",
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles, read 2026-12-04):
// - Monitoring Reader (43d0d8ad-25c7-4714-9337-8ba259a9fe05): fired alerts, alert rules, metrics, and read on every
//   resource, which the portal needs to show them ("Roles, permissions, and security in Azure Monitor",
//   https://learn.microsoft.com/azure/azure-monitor/roles-permissions-security, read 2026-12-04);
// - Log Analytics Reader (73c42c96-874c-492b-b04d-ab87d138a893): run log queries in the workspace and on
//   Application Insights (the alert queries, the runbook's queries);
// - Workbook Reader (b279062a-9be3-42a0-92ae-8b3cf002ec4d): open shared workbooks ("Azure Workbooks access control",
//   https://learn.microsoft.com/azure/azure-monitor/visualize/workbooks-overview#access-control, read 2026-12-04).
// All three read only; none reads a secret or a message.
var operatorMonitoringRoles = [
  '43d0d8ad-25c7-4714-9337-8ba259a9fe05'
  '73c42c96-874c-492b-b04d-ab87d138a893'
  'b279062a-9be3-42a0-92ae-8b3cf002ec4d'
]

resource operatorMonitoringReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in operatorMonitoringRoles: if (!empty(operatorPrincipalId)) {
  name: guid(resourceGroup().id, operatorPrincipalId, roleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}]
