// Azure Monitor alert rules that inform: nothing fails silently, and nothing floods an inbox.
//
// - Dead-lettered messages: a metric alert on the Service Bus namespace (one alert per queue, EntityName), and a log
//   search alert on the app's own count (`{"metric":"queue.dead_lettered","value":n,"queue":...}`, written by the
//   deadline watch for every queue on each run, hourly at :15, or the event `queue.dead_lettered.unavailable` when a
//   count cannot be read). Both are stateful (autoMitigate): one notification when a queue starts holding dead
//   letters, and the alert resolves by itself once the queue is empty again.
// - Failed privacy requests, overdue privacy requests, failed retention sweeps, failed or slow erasure drills: log
//   search alerts over App Insights `traces`, where Flowkeeper writes each as one JSON line,
//   `{"event":"<name>", ...ids}` (shared/telemetry). These are events, not states, so the rules are stateless and
//   deduplicate in the query: a row counts only in the evaluation whose window holds its ingestion time
//   (windowSize == evaluationFrequency, `ingestion_time() > ago(<window>)`), and only if it is the first row of that
//   request (or tenant) in the current UTC day (overrideQueryTimeRange P1D, `startofday(now())`). Split by the id,
//   each request gets its own alert: at most one notification per request per day, however often the app repeats
//   the event (the deadline watch repeats `privacy.request.overdue` every hour while a request stays open).
// - Rejected webhook signatures: a burst above a threshold; stateful, so one notification per burst.
//
// Every description links its runbook section (docs/operations.md#...); test/infra/rules.ts checks that each
// anchor is a heading of docs/operations.md, that the names in the queries are the ones the code emits, and that
// every rule keeps the settings above (the policy rule alerts-no-flood).
//
// Vendor facts: "Create or edit a log search alert rule" (https://learn.microsoft.com/azure/azure-monitor/alerts/
// alerts-create-log-alert-rule, read 2026-12-04): a stateful rule ("Automatically resolve alerts", autoMitigate)
// notifies when it fires and when it resolves, and not again while it stays fired; "Override query time range" lets
// the query look further back than the aggregation window; splitting by dimensions fires one alert per value.
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

@description('Address of docs/operations.md as published for the operators; empty: the descriptions name the file.')
param runbookUrl string

var runbook = empty(runbookUrl) ? 'docs/operations.md' : runbookUrl

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

resource deadLetteredMessagesAlert 'Microsoft.Insights/metricAlerts@2026-01-01' = {
  name: 'alert-${namePrefix}-dead-lettered-messages'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Service Bus queue has dead-lettered messages: a message failed 10 deliveries or expired. Fix the cause, then replay with flowkeeper dead-letters replay (Service Bus Explorer\'s resend leaves the original behind). Resolves once the queue is empty. Runbook: ${runbook}#dead-letters-on-a-queue'
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
    // Stateful: one notification when a queue starts holding dead letters, resolved when it is empty.
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
    description: 'A privacy request reached the failed state; the alert names the request (requestId) and its store. The reason is in GET /api/privacy-requests/{id}; fix the cause, then re-drive it with flowkeeper requests retry <id>. At most one notification per request per day. Runbook: ${runbook}#a-privacy-request-failed'
    severity: 1
    enabled: true
    // Every event counted once: the window equals the frequency and the query keeps rows ingested in that window.
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    // The query looks back over the UTC day to find each request's first failure of the day.
    overrideQueryTimeRange: 'P1D'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where timestamp >= startofday(now())
| where message has "privacy.request.failed"
| extend eventName = extract('"event":"([^"]+)"', 1, message)
| where eventName == "privacy.request.failed"
| extend requestId = extract('"requestId":"([^"]+)"', 1, message), store = extract('"store":"([^"]+)"', 1, message)
| summarize firstIngested = min(ingestion_time()), store = take_any(store) by requestId
| where firstIngested > ago(5m)
| project requestId, store, firstIngested
'''
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'requestId'
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
    // An event, not a state: nothing to resolve. The query's dedupe keeps it to one alert per request per day.
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
    description: 'A privacy request is past, or within DEADLINE_ALERT_DAYS of, its legal deadline (GDPR one month, CCPA 45 days); the alert names the request (requestId). The deadline watch reports it every hour while it stays open; this alert notifies once per request per UTC day. Runbook: ${runbook}#a-privacy-request-is-overdue'
    severity: 1
    enabled: true
    // The watch runs hourly at :15 (DEADLINE_WATCH_SCHEDULE): each of its rows falls in exactly one hourly window.
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    overrideQueryTimeRange: 'P1D'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where timestamp >= startofday(now())
| where message has "privacy.request.overdue"
| extend eventName = extract('"event":"([^"]+)"', 1, message)
| where eventName == "privacy.request.overdue"
| extend requestId = extract('"requestId":"([^"]+)"', 1, message), daysLeft = toint(extract('"daysLeft":(-?[0-9]+)', 1, message))
| summarize firstIngested = min(ingestion_time()), daysLeft = min(daysLeft) by requestId
| where firstIngested > ago(1h)
| project requestId, daysLeft, firstIngested
'''
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'requestId'
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
    // A daily reminder per open request, by the query's dedupe; auto-resolve would notify once and then stay silent
    // for the weeks a request may stay at risk.
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
    description: 'Many WhatsApp webhook calls failed the X-Hub-Signature-256 check: an app secret reset at Meta but not yet in Key Vault, or someone probing the endpoint. One notification per burst; resolves when the rejections stop. Runbook: ${runbook}#rotating-secrets-and-keys'
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
    // A state (a burst going on): stateful, notified once when it starts and once when it ends.
    autoMitigate: true
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
    description: 'The nightly retention sweep could not finish a tenant (a Blob or Cosmos DB error); the alert names the tenant (tenantId). The next run retries from the checkpoint, and after 3 failures in a run the tenant is given up until the next run (docs/retention.md). At most one notification per tenant per day. Runbook: ${runbook}#a-backing-store-is-down'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    overrideQueryTimeRange: 'P1D'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where timestamp >= startofday(now())
| where message has "retention.sweep.failed"
| extend eventName = extract('"event":"([^"]+)"', 1, message)
| where eventName == "retention.sweep.failed"
| extend tenantId = extract('"tenantId":"([^"]+)"', 1, message)
| summarize firstIngested = min(ingestion_time()) by tenantId
| where firstIngested > ago(15m)
| project tenantId, firstIngested
'''
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'tenantId'
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
    description: 'The deadline watch found messages in a queue\'s dead-letter queue (metric queue.dead_lettered above 0), or could not read a queue\'s count (queue.dead_lettered.unavailable: Service Bus unreachable or a missing role); the alert names the queue. Resolves once a report shows the queue empty. Runbook: ${runbook}#dead-letters-on-a-queue'
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
    // A state: stateful, resolved once the latest report shows the queue empty.
    autoMitigate: true
    actions: {
      actionGroups: logAlertActionGroups
    }
  }
}

resource erasureDrillAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-erasure-drill-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Flowkeeper: erasure drill failed or was slow'
    description: 'The erasure drill (a synthetic subject written to every store a tenant uses, then erased through the normal path) failed to erase or verify (privacy.drill.failed), or took longer than its target (privacy.drill.slow); the alert names the tenant and which of the two. Real erasures for that tenant may be failing the same way. At most one notification per tenant and kind per day. Runbook: ${runbook}#an-erasure-drill-failed-or-was-slow'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    overrideQueryTimeRange: 'P1D'
    scopes: [
      appInsightsId
    ]
    criteria: {
      allOf: [
        {
          query: '''
traces
| where timestamp >= startofday(now())
| where message has_any ("privacy.drill.failed", "privacy.drill.slow")
| extend eventName = extract('"event":"([^"]+)"', 1, message)
| where eventName in ("privacy.drill.failed", "privacy.drill.slow")
| extend tenantId = extract('"tenantId":"([^"]+)"', 1, message)
| summarize firstIngested = min(ingestion_time()) by tenantId, eventName
| where firstIngested > ago(15m)
| project tenantId, eventName, firstIngested
'''
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'tenantId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'eventName'
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
    autoMitigate: false
    actions: {
      actionGroups: logAlertActionGroups
    }
  }
}
