// Parameters for `azd up` / `azd provision` (azure.yaml), and a development default for the az CLI:
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.bicepparam
// azd passes its environment's values (`azd env set NAME value`, stored in .azure/<env>/.env) to the Bicep CLI as
// environment variables, which readEnvironmentVariable() reads when this file is compiled. The azd-managed values
// are AZURE_ENV_NAME, AZURE_LOCATION and AZURE_SUBSCRIPTION_ID; the FLOWKEEPER_* values are ours
// (docs/operations.md, "Deploy with azd"). Production with the az CLI uses env/prod.bicepparam instead.
using './main.bicep'

// Pinned: personal data stays in the UK. azure.yaml's preprovision hook refuses an azd environment whose
// AZURE_LOCATION is anything else, so the resource group and the resources agree.
param location = 'uksouth'

// The azd environment name (`azd env new <name>`), 2-6 characters: part of every resource name.
param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'dev')

// Client id of the Entra app registration for App Service Authentication (docs/operations.md, "Before the
// first deployment"). Read from the environment so no tenant-specific id is committed.
param authClientId = readEnvironmentVariable('FLOWKEEPER_AUTH_CLIENT_ID')

// Private endpoints and VNet integration: 'true' for production (docs/operations.md, "Network isolation").
param networkIsolation = readEnvironmentVariable('FLOWKEEPER_NETWORK_ISOLATION', 'false') == 'true'

param mediaRetentionDays = 30
param exportRetentionDays = 7
param logRetentionDays = 14
param enableCustomerManagedKeys = false
param alertEmail = readEnvironmentVariable('FLOWKEEPER_ALERT_EMAIL', '')
param operatorPrincipalId = readEnvironmentVariable('FLOWKEEPER_OPERATOR_GROUP_ID', '')
param runbookUrl = readEnvironmentVariable('FLOWKEEPER_RUNBOOK_URL', '')
