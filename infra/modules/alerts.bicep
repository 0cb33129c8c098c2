// Azure Monitor alert rules: nothing fails silently.
//
// - Dead-lettered messages (metric alert on the Service Bus namespace, one alert per queue).
// - Failed privacy requests, overdue privacy requests, and rejected webhook signatures: log search alerts over
//   App Insights `traces`. Flowkeeper logs each of these as one JSON line, `{"event":"<name>", ...ids}`
//   (shared/telemetry), which the Functions host stores as a trace whose message is that line.
//
// Metric alert rules and action groups are global resources in Azure Resource Manager: their `location` must be
// 'global', not a region. They hold configuration only (rule, threshold, e-mail address), no personal data; the
// scheduled query rules, which run queries over the logs, stay in `location`.

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param namePrefix string
param appInsightsId string
param serviceBusNamespaceId string

@description('E-mail address for the action group; empty: no action group, alerts show in the portal.')
param alertEmail string

@minValue(1)
param signatureRejectionThreshold int

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${namePrefix}-operators'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'flowkeeper'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var metricAlertActions = empty(alertEmail) ? [] : [
  {
    actionGroupId: actionGroup.id
  }
]
var logAlertActionGroups = empty(alertEmail) ? [] : [
  actionGroup.id
]

resource deadLetteredMessagesAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-dead-lettered-messages'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Service Bus queue has dead-lettered messages: a message failed 10 deliveries or expired. Inspect and replay it with Service Bus Explorer (docs/operations.md, "Replay the dead-letter queue").'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadletteredMessagesAboveZero'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    autoMitigate: true
    actions: metricAlertActions
  }
}

resource privacyRequestFailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-privacy-request-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Flowkeeper: privacy request failed'
    description: 'A privacy request reached the failed state. The trace names the request id and the store that failed; re-drive it after fixing the cause (docs/operations.md).'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message has "privacy.request.failed"
| extend eventName = extract('"event":"([^"]+)"', 1, message)
| where eventName == "privacy.request.failed"
| project timestamp, message
'''
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: logAlertActionGroups
    }
  }
}

resource privacyRequestOverdueAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-privacy-request-overdue'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Flowkeeper: privacy request overdue or close to its deadline'
    description: 'A privacy request is past, or within DEADLINE_ALERT_DAYS of, its legal deadline (GDPR one month, CCPA 45 days). Look it up with GET /api/privacy-requests/{id}.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message has "privacy.request.overdue"
| extend eventName = extract('"event":"([^"]+)"', 1, message)
| where eventName == "privacy.request.overdue"
| project timestamp, message
'''
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: logAlertActionGroups
    }
  }
}

resource webhookSignatureRejectedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-webhook-signature-rejected'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Flowkeeper: webhook signatures rejected'
    description: 'Many WhatsApp webhook calls failed the X-Hub-Signature-256 check: a rotated app secret not yet in Key Vault, or someone probing the endpoint (docs/operations.md, "Rotate the app secret").'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message has "webhook.signature.rejected"
| extend eventName = extract('"event":"([^"]+)"', 1, message)
| where eventName == "webhook.signature.rejected"
| project timestamp, message
'''
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: signatureRejectionThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: logAlertActionGroups
    }
  }
}
