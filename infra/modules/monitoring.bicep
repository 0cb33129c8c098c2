// Monitoring: a Log Analytics workspace (retention set) and a workspace-based Application Insights
// component (sampling set, local auth off: the app sends telemetry with its identity).
//
// Flowkeeper logs every event as one JSON line (shared/telemetry); the Functions host turns console output
// into App Insights `traces`, which the alert rules in alerts.bicep query. Those lines carry ids, counts and
// keyed hashes only, never a phone number or message text, so the retention below holds no personal data.

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param workspaceName string
param appInsightsName string

@minValue(30)
@maxValue(730)
param retentionInDays int

@minValue(1)
@maxValue(100)
param samplingPercentage int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

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
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

output workspaceId string = workspace.id
output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
// The connection string names the component and its ingestion endpoint; it is not a credential
// (local auth is off above), so it is passed as a plain app setting.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
