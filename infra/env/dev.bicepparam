// Development: smallest footprint, locally redundant storage, alerts to whoever deploys.
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/env/dev.bicepparam
using '../main.bicep'

param location = 'uksouth'
param environmentName = 'dev'
param authClientId = readEnvironmentVariable('FLOWKEEPER_AUTH_CLIENT_ID')

param storageSku = 'Standard_LRS'
param mediaRetentionDays = 7
param exportRetentionDays = 2
param logRetentionDays = 7
param networkIsolation = false
param cosmosMaxThroughput = 1000
param maximumInstanceCount = 40
param enableCustomerManagedKeys = false
param alertEmail = readEnvironmentVariable('FLOWKEEPER_ALERT_EMAIL', '')
param operatorPrincipalId = readEnvironmentVariable('FLOWKEEPER_OPERATOR_GROUP_ID', '')
