// Production.
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/env/prod.bicepparam
// Decide enableCustomerManagedKeys before the first deployment (docs/operations.md, "Customer-managed keys").
using '../main.bicep'

param location = 'uksouth'
param environmentName = 'prod'
param authClientId = readEnvironmentVariable('FLOWKEEPER_AUTH_CLIENT_ID')

param storageSku = 'Standard_ZRS'
param mediaRetentionDays = 30
param exportRetentionDays = 7
param logRetentionDays = 14
// Private endpoints, public access off on every store, VNet integration; Service Bus Premium (docs/operations.md,
// "Network isolation").
param networkIsolation = true
param appInsightsSamplingPercentage = 100
param cosmosMaxThroughput = 4000
param maximumInstanceCount = 100
param instanceMemoryMB = 2048
param enableCustomerManagedKeys = false
param signatureRejectionThreshold = 10
param alertEmail = readEnvironmentVariable('FLOWKEEPER_ALERT_EMAIL')
param operatorPrincipalId = readEnvironmentVariable('FLOWKEEPER_OPERATOR_GROUP_ID')
param operatorPrincipalType = 'Group'
param runbookUrl = readEnvironmentVariable('FLOWKEEPER_RUNBOOK_URL', '')
