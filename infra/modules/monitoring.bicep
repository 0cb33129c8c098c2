// Monitoring: a Log Analytics workspace and a workspace-based Application Insights component (sampling set,
// local auth off: the app sends telemetry with its identity).
//
// Retention: the seed promises that logs which could hold personal data expire within 7 to 14 days. Flowkeeper
// logs ids, counts and keyed hashes only, but the platform's own tables (request URLs, dependency targets, the
// data-plane logs of the stores in diagnostics.bicep) are not ours to control line by line, so every table the
// deployment writes to is held to `retentionInDays` (7-14) at table level, with no long-term retention, and the
// workspace default sits at its minimum.
//
// Vendor facts (Microsoft Learn, "Manage data retention in a Log Analytics workspace",
// https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure, updated 2025-09-09):
// - the workspace default (PerGB2018) is 30 days at least and up to 730; a table's analytics retention can be set
//   as low as 4 days through the API (which is what a template uses); total retention up to 4,383 days;
// - "Workspaces with 30-day retention might keep data for 31 days": `immediatePurgeDataOn30Days` removes it at 30;
// - the Application Insights tables (AppAvailabilityResults, AppBrowserTimings, AppDependencies, AppExceptions,
//   AppEvents, AppMetrics, AppPageViews, AppPerformanceCounters, AppRequests, AppSystemEvents, AppTraces) keep data
//   for 90 days by default, whatever the workspace says: each must be set on its own, as below.

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param workspaceName string
param appInsightsName string

@description('Days every log table keeps its rows (analytics and total retention alike): 7-14, as the product promises.')
@minValue(7)
@maxValue(14)
param retentionInDays int

@minValue(1)
@maxValue(100)
param samplingPercentage int

// Every table the deployment writes to. The App* tables: the Functions host and the app (workspace-based
// Application Insights). The others: the resource-specific tables of the diagnostic settings in
// diagnostics.bicep, and AzureDiagnostics for any category a service still writes in the legacy shape.
// Table names: Azure Monitor Logs table reference (https://learn.microsoft.com/azure/azure-monitor/reference/tables/,
// AZMSRunTimeAuditLogs page updated 2024-07-30, AZKVAuditLogs queries page updated 2024-02-18).
var logTables = [
  'AppAvailabilityResults'
  'AppBrowserTimings'
  'AppDependencies'
  'AppEvents'
  'AppExceptions'
  'AppMetrics'
  'AppPageViews'
  'AppPerformanceCounters'
  'AppRequests'
  'AppSystemEvents'
  'AppTraces'
  'AzureDiagnostics'
  'AZKVAuditLogs'
  'CDBDataPlaneRequests'
  'CDBControlPlaneRequests'
  'StorageBlobLogs'
  'AZMSOperationalLogs'
  'AZMSDiagnosticErrorLogs'
  'AZMSRunTimeAuditLogs'
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    // The minimum the PerGB2018 tier allows; each table below keeps its rows for less.
    retentionInDays: 30
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
      immediatePurgeDataOn30Days: true
    }
    // Public even with networkIsolation: an Azure Monitor Private Link Scope is not part of this deployment (the
    // telemetry holds no personal data; docs/operations.md, "Network isolation").
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource tables 'Microsoft.OperationalInsights/workspaces/tables@2025-07-01' = [for table in logTables: {
  parent: workspace
  name: table
  properties: {
    retentionInDays: retentionInDays
    totalRetentionInDays: retentionInDays
  }
}]

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    // Ingestion sampling. 100 keeps every trace line, which the alert rules count one by one.
    SamplingPercentage: samplingPercentage
    // Telemetry is sent with the app's identity (Monitoring Metrics Publisher, access.bicep), never a key.
    DisableLocalAuth: true
    DisableIpMasking: false
    // Workspace-based: the rows live in the workspace tables above, with their retention. The component's own
    // RetentionInDays applies to classic components only and is not set.
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
// The connection string names the component and its ingestion endpoint; it is not a credential
// (local auth is off above), so it is passed as a plain app setting.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
