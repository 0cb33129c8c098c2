// Service Bus: one namespace, the four queues of shared/queue/queuePort.ts.
//
// Tier: Standard (duplicate detection needs at least Standard), or Premium when `networkIsolation` is on: private
// endpoints, and the runtime audit logs of diagnostics.bicep, exist in the Premium tier only ("Integrate Azure
// Service Bus with Azure Private Link Service": "only Premium tier namespaces support private endpoints",
// https://learn.microsoft.com/azure/service-bus-messaging/private-link-service, read 2026-12-04). Premium is billed
// per messaging unit and hour, far above Standard's base charge: docs/operations.md, "Network isolation", gives the
// trade-off. Local (SAS key) auth is off; the app sends and receives with its identity (access.bicep).
//
// Every queue: after 10 failed deliveries the broker dead-letters the message (the Node worker has no host retry
// policy, so this is the retry budget); expired messages are dead-lettered rather than dropped, so nothing is
// lost silently; a MessageId seen within 10 minutes is dropped as a duplicate (this can only be set when a queue
// is created); a 1-minute lock, renewed by the host while the function runs. Messages carry ids and keyed hashes
// only, so the dead-letter queue is not a second copy of anyone's data.

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param namespaceName string

@description('Premium tier, no public network access: the namespace is reached through its private endpoint (network.bicep).')
param networkIsolation bool

var queueNames = [
  'media-downloads'
  'hubspot-sync'
  'privacy-requests'
  'erasure-tasks'
]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: networkIsolation ? {
    name: 'Premium'
    tier: 'Premium'
    capacity: 1
  } : {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: networkIsolation ? 'Disabled' : 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for queueName in queueNames: {
  parent: namespace
  name: queueName
  properties: {
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    lockDuration: 'PT1M'
    defaultMessageTimeToLive: 'P14D'
    requiresSession: false
    enablePartitioning: false
    maxSizeInMegabytes: 1024
  }
}]

output namespaceName string = namespace.name
output namespaceId string = namespace.id
// `https://<name>.servicebus.windows.net:443/` -> `<name>.servicebus.windows.net`
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
