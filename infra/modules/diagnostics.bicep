// Diagnostic settings: who read a secret, and who touched the data. Every store that holds personal data, or a
// key to it, sends its access log to the Log Analytics workspace, into resource-specific tables whose retention
// monitoring.bicep holds to 7-14 days like the application logs.
//
// - Key Vault: AuditEvent (every secret read, e.g. a tenant's HubSpot token) -> AZKVAuditLogs.
// - Cosmos DB: DataPlaneRequests (every data-plane request) and ControlPlaneRequests -> CDBDataPlaneRequests,
//   CDBControlPlaneRequests.
// - Storage, the media account's blob service: StorageRead, StorageWrite, StorageDelete -> StorageBlobLogs.
// - Service Bus: OperationalLogs (management operations) and DiagnosticErrorLogs -> AZMSOperationalLogs,
//   AZMSDiagnosticErrorLogs; RuntimeAuditLogs (send and receive, per principal) -> AZMSRunTimeAuditLogs, which
//   Service Bus offers in the Premium tier only ("Runtime audit logs are currently available only in the premium
//   tier": https://learn.microsoft.com/azure/service-bus-messaging/monitor-service-bus-reference, read 2026-12-04):
//   the namespace is Premium when networkIsolation is on (serviceBus.bicep), so prod gets them.
//
// `logAnalyticsDestinationType: 'Dedicated'` asks for the resource-specific tables (Azure Monitor, "Diagnostic
// settings", https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings, read 2026-12-04); a
// service that still writes a category in the legacy shape lands in AzureDiagnostics, whose retention is held to the
// same days. Category names: "Supported categories for Azure Monitor resource logs"
// (https://learn.microsoft.com/azure/azure-monitor/reference/logs-index, read 2026-12-04).
//
// What these logs hold: caller identity (object id, IP), operation, resource path, status. Blob paths carry the
// tenant id and the subject's keyed hash, never a phone number; Cosmos DB data-plane logs carry no document content.

param workspaceId string
param keyVaultName string
param cosmosAccountName string
param mediaStorageAccountName string
param serviceBusNamespaceName string

@description('True when the Service Bus namespace is Premium: only then does it offer RuntimeAuditLogs.')
param serviceBusPremium bool

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource cosmosAccount 'Microsoft.DocumentDB/databaseAccounts@2025-10-15' existing = {
  name: cosmosAccountName
}

resource mediaAccount 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: mediaStorageAccountName
}

resource mediaBlobService 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' existing = {
  parent: mediaAccount
  name: 'default'
}

resource serviceBusNamespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource keyVaultAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-workspace'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

resource cosmosDataPlane 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-workspace'
  scope: cosmosAccount
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'DataPlaneRequests'
        enabled: true
      }
      {
        category: 'ControlPlaneRequests'
        enabled: true
      }
    ]
  }
}

resource mediaBlobAccess 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-workspace'
  scope: mediaBlobService
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

resource serviceBusAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-workspace'
  scope: serviceBusNamespace
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: concat([
      {
        category: 'OperationalLogs'
        enabled: true
      }
      {
        category: 'DiagnosticErrorLogs'
        enabled: true
      }
    ], serviceBusPremium ? [
      {
        category: 'RuntimeAuditLogs'
        enabled: true
      }
    ] : [])
  }
}
