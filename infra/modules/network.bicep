// Network isolation (main.bicep's `networkIsolation`, on in prod): the data stores are reachable only from a
// private virtual network, and the Function App reaches them through it.
//
// - A virtual network with two subnets: `app`, delegated to the Flex Consumption plan's VNet integration, and
//   `private-endpoints`, holding one private endpoint per store.
// - Private endpoints with private DNS zones (linked to the virtual network) for Cosmos DB (Sql), both storage
//   accounts (blob: the Functions host's leases and deployment package, and the media), Service Bus (namespace; needs
//   the Premium tier) and Key Vault (vault). The Functions host needs only the blob service of its storage account
//   here: no queue or table trigger, no Durable Functions.
// - Each store turns public network access off when this module is deployed (cosmos.bicep, storage.bicep,
//   serviceBus.bicep, keyVault.bicep); the Function App keeps its public endpoint, because WhatsApp's webhooks and
//   Flows requests arrive from the internet.
//
// Vendor facts:
// - Flex Consumption VNet integration: the subnet must be delegated to `Microsoft.App/environments`, and is set as
//   `virtualNetworkSubnetId` on the site ("Azure Functions networking options", Flex Consumption section,
//   https://learn.microsoft.com/azure/azure-functions/functions-networking-options, read 2026-12-04; the same
//   delegation in Azure-Samples/functions-quickstart-typescript-azd infra/app/vnet.bicep, commit of 2026-02-24).
// - Private DNS zone names and private link sub-resources ("Azure Private Endpoint private DNS zone values",
//   https://learn.microsoft.com/azure/private-link/private-endpoint-dns, read 2026-12-04): Cosmos DB NoSQL `Sql`
//   -> privatelink.documents.azure.com; Storage `blob` -> privatelink.blob.core.windows.net; Service Bus `namespace`
//   -> privatelink.servicebus.windows.net; Key Vault `vault` -> privatelink.vaultcore.azure.net.

@description('Region: UK South only (data residency).')
@allowed([
  'uksouth'
])
param location string

param tags object
param vnetName string

@description('Address space of the virtual network; the two /24 subnets are carved from its first two /24 blocks.')
param addressPrefix string = '10.40.0.0/16'

param cosmosAccountId string
param runtimeStorageAccountId string
param mediaStorageAccountId string
param serviceBusNamespaceId string
param keyVaultId string

var appSubnetName = 'app'
var privateEndpointSubnetName = 'private-endpoints'

resource vnet 'Microsoft.Network/virtualNetworks@2025-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: appSubnetName
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

// One entry per private endpoint: the store, its private link sub-resource, and its DNS zone.
var endpoints = [
  {
    name: 'cosmos'
    resourceId: cosmosAccountId
    groupId: 'Sql'
    zone: 'privatelink.documents.azure.com'
  }
  {
    name: 'runtime-blob'
    resourceId: runtimeStorageAccountId
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    name: 'media-blob'
    resourceId: mediaStorageAccountId
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    name: 'servicebus'
    resourceId: serviceBusNamespaceId
    groupId: 'namespace'
    zone: 'privatelink.servicebus.windows.net'
  }
  {
    name: 'keyvault'
    resourceId: keyVaultId
    groupId: 'vault'
    zone: 'privatelink.vaultcore.azure.net'
  }
]

var zoneNames = [
  'privatelink.documents.azure.com'
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.servicebus.windows.net'
  'privatelink.vaultcore.azure.net'
]

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for zone in zoneNames: {
  name: zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (zone, i) in zoneNames: {
  parent: zones[i]
  name: '${vnetName}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2025-05-01' = [for endpoint in endpoints: {
  name: 'pe-${vnetName}-${endpoint.name}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, privateEndpointSubnetName)
    }
    privateLinkServiceConnections: [
      {
        name: endpoint.name
        properties: {
          privateLinkServiceId: endpoint.resourceId
          groupIds: [
            endpoint.groupId
          ]
        }
      }
    ]
  }
}]

resource dnsZoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2025-05-01' = [for (endpoint, i) in endpoints: {
  parent: privateEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: replace(endpoint.zone, '.', '-')
        properties: {
          privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', endpoint.zone)
        }
      }
    ]
  }
  dependsOn: [
    zones
  ]
}]

output vnetId string = vnet.id
output appSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, appSubnetName)
