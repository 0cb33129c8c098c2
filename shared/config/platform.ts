/**
 * Whether this process runs on Azure's Functions platform, read from variables the platform sets itself
 * (never from one of Flowkeeper's own settings, which a deployment could forget or copy). They are the
 * ones the Functions host uses to tell its environments apart (azure-functions-host,
 * src/WebJobs.Script/Environment/EnvironmentExtensions.cs), and App Service documents as read-only
 * (learn.microsoft.com/azure/app-service/reference-app-settings):
 *
 * - `WEBSITE_INSTANCE_ID`: App Service hosting (Dedicated, Premium, Windows Consumption), the host's `IsAppService()`;
 * - `LEGION_SERVICE_HOST`, and `WEBSITE_SKU` (`FlexConsumption` on Flowkeeper's plan, `Dynamic`,
 *   `ElasticPremium`...): Flex Consumption, the host's `IsFlexConsumptionSku()` / `IsLinuxConsumptionOnLegion()`;
 * - `CONTAINER_NAME` together with `WEBSITE_SITE_NAME`: Linux Consumption, the host's `IsLinuxConsumptionOnAtlas()`.
 *   `CONTAINER_NAME` alone is not enough: container runtimes elsewhere (CI runners, dev containers, this
 *   project's own build machine) set it too.
 *
 * Core Tools (`func start`) and `npm start` set none of these on a developer machine. Names an app setting
 * could plausibly carry locally (`WEBSITE_SITE_NAME` alone, `FUNCTIONS_EXTENSION_VERSION`, `WEBSITE_HOSTNAME`)
 * are deliberately not enough: a local.settings.json copied from a portal export must not make a laptop "Azure".
 */
export const AZURE_PLATFORM_VARIABLES = ['WEBSITE_INSTANCE_ID', 'LEGION_SERVICE_HOST', 'WEBSITE_SKU'] as const;

/** The platform variable that says this is Azure, or undefined off Azure. */
export function azurePlatformMarker(env: Record<string, string | undefined>): string | undefined {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const marker = AZURE_PLATFORM_VARIABLES.find(set);
  if (marker) return marker;
  return set('CONTAINER_NAME') && set('WEBSITE_SITE_NAME') ? 'CONTAINER_NAME' : undefined;
}
