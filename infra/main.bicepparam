// Default parameters: a development deployment. The environments have their own files in env/.
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam
using './main.bicep'

param location = 'uksouth'
param environmentName = 'dev'

// Client id of the Entra app registration for App Service Authentication (docs/operations.md, "Before the
// first deployment"). Read from the environment so no tenant-specific id is committed.
param authClientId = readEnvironmentVariable('FLOWKEEPER_AUTH_CLIENT_ID')

param mediaRetentionDays = 30
param exportRetentionDays = 7
param logRetentionDays = 30
param enableCustomerManagedKeys = false
param alertEmail = readEnvironmentVariable('FLOWKEEPER_ALERT_EMAIL', '')
param operatorPrincipalId = readEnvironmentVariable('FLOWKEEPER_OPERATOR_GROUP_ID', '')
