// Azure Monitor alert rules: nothing fails silently.
//
// - Dead-lettered messages (metric alert on the Service Bus namespace, one alert per queue).
// - Failed privacy requests, overdue privacy requests, rejected webhook signatures, and a tenant the retention sweep
//   could not finish: log search alerts over App Insights `traces`. Flowkeeper logs each of these as one JSON line,
//   `{"event":"<name>", ...ids}` (shared/telemetry), which the Functions host stores as a trace whose message is
//   that line.
// - Dead letters as the app counts them: the deadline watch writes `{"metric":"queue.dead_lettered","value":n,
//   "queue":...}` for every queue on each run (DEADLINE_WATCH_SCHEDULE, hourly at :15), or the event
//   `queue.dead_lettered.unavailable` when a queue's count cannot be read. The alert reads the latest line per queue.
//
// The names in the queries are the ones the code emits; test/infra/rules.ts checks each against shared/, and that
// every alert docs/operations.md lists is declared here (and the reverse).
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

resource retentionSweepFailedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-retention-sweep-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Flowkeeper: retention sweep failed for a tenant'
    description: 'The nightly retention sweep could not finish a tenant (a Blob or Cosmos DB error). The trace names the tenant, the phase, the failures in this run and the error class; the next run retries from the checkpoint, and after 3 failures in a run the tenant is given up until the next run (docs/retention.md).'
    severity: 2
    enabled: true
    // The sweep runs once a night (RETENTION_SCHEDULE): each event is counted in exactly one evaluation.
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message has "retention.sweep.failed"
| extend eventName = extract('"event":"([^"]+)"', 1, message)
| where eventName == "retention.sweep.failed"
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

resource queueDeadLetteredAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-queue-dead-lettered'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Flowkeeper: dead-lettered messages reported by the app, or a dead-letter count unreadable'
    description: 'The deadline watch found messages in a queue\'s dead-letter queue (metric queue.dead_lettered above 0), or could not read a queue\'s count (queue.dead_lettered.unavailable: Service Bus unreachable or a missing role). Replay with Service Bus Explorer after fixing the cause (docs/operations.md, "Replay the dead-letter queue").'
    severity: 2
    enabled: true
    // The watch reports every hour at :15 (DEADLINE_WATCH_SCHEDULE): a 2-hour window always holds the latest
    // report of each queue, even if one run is late; only that latest report counts, so the alert resolves once a
    // report shows the queue empty.
    evaluationFrequency: 'PT1H'
    windowSize: 'PT2H'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message has "queue.dead_lettered"
| extend metricName = extract('"metric":"([^"]+)"', 1, message), eventName = extract('"event":"([^"]+)"', 1, message)
| where metricName == "queue.dead_lettered" or eventName == "queue.dead_lettered.unavailable"
| extend queue = extract('"queue":"([^"]+)"', 1, message), deadLettered = toint(extract('"value":([0-9]+)', 1, message))
| summarize arg_max(timestamp, metricName, eventName, deadLettered) by queue
| where deadLettered > 0 or eventName == "queue.dead_lettered.unavailable"
| project timestamp, queue, deadLettered, eventName
'''
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'queue'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: logAlertActionGroups
    }
  }
}
