#!/bin/sh
# azd preprovision hook (azure.yaml): refuses an azd environment that would put Flowkeeper outside UK South, or that
# lacks the values infra/main.bicepparam needs, before anything is created. azd passes the environment's values
# (.azure/<env>/.env) to hooks as environment variables.
set -eu

fail() {
  echo "preprovision: $1" >&2
  exit 1
}

[ "${AZURE_LOCATION:-}" = "uksouth" ] || fail "AZURE_LOCATION is '${AZURE_LOCATION:-}', but Flowkeeper keeps personal data in UK South only: azd env set AZURE_LOCATION uksouth"
[ -n "${AZURE_RESOURCE_GROUP:-}" ] || fail "AZURE_RESOURCE_GROUP is not set: azd env set AZURE_RESOURCE_GROUP rg-flowkeeper-<env> (the templates are resource-group scoped)"
name_length=$(printf '%s' "${AZURE_ENV_NAME:-}" | wc -c)
[ "$name_length" -ge 2 ] && [ "$name_length" -le 6 ] || fail "the azd environment name '${AZURE_ENV_NAME:-}' must be 2-6 characters (it is part of every resource name): azd env new <name>"
printf '%s' "${FLOWKEEPER_AUTH_CLIENT_ID:-}" | grep -Eq '^[0-9a-fA-F-]{36}$' || fail "FLOWKEEPER_AUTH_CLIENT_ID must be the client id (a GUID) of the Entra app registration for the admin API (docs/operations.md, 'Before the first deployment'): azd env set FLOWKEEPER_AUTH_CLIENT_ID <app id>"
case "${FLOWKEEPER_NETWORK_ISOLATION:-false}" in
  true | false) ;;
  *) fail "FLOWKEEPER_NETWORK_ISOLATION must be 'true' or 'false' (found '${FLOWKEEPER_NETWORK_ISOLATION}')" ;;
esac
echo "preprovision: environment '${AZURE_ENV_NAME}' in uksouth, resource group ${AZURE_RESOURCE_GROUP}, networkIsolation=${FLOWKEEPER_NETWORK_ISOLATION:-false}"
