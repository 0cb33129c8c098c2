// Azure Monitor Workbook "Flowkeeper privacy outcomes": the privacy figures the app emits every hour
// (completion rate, deletion latency, re-engagement, trust coefficient, requests by type, channel and
// screen, overdue and failed counts) charted from App Insights `traces`, with the overdue and failed
// requests listed by id. The template is infra/workbook/privacy-outcomes.workbook.json, loaded at build time;
// test/metrics/workbook.test.ts checks it references only metric and event names the app emits.
//
// The workbook is linked to the App Insights component (sourceId): it appears under that resource's
// Workbooks, and its queries run there. It holds queries only, no data.

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object

@description('Resource id of the Application Insights component whose traces the workbook queries.')
param appInsightsId string

@description('Name shown in the portal.')
param displayName string = 'Flowkeeper privacy outcomes'

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's resource name must be a GUID: stable per component, so a redeployment updates it in place.
  name: guid(appInsightsId, 'flowkeeper-privacy-outcomes')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: loadTextContent('../workbook/privacy-outcomes.workbook.json')
    version: '1.0'
  }
}

output workbookId string = workbook.id
output workbookName string = workbook.name
