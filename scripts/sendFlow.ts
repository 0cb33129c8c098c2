import { scriptArguments } from '../cli/args';
import { localEnvironment } from '../shared/config/localSettings';
import { cosmosClientFor, cosmosContainers } from '../shared/cosmos/cosmosStore';
import { dataKeyring } from '../shared/crypto/subjectKeys';
import { systemClock, type Clock } from '../shared/domain/clock';
import { identifierHashOf, identifierOf, tenantIdSchema } from '../shared/domain/ids';
import { marketingRefusal, sendFlow } from '../shared/flows/sendFlow';
import { KeyVaultSecretProvider } from '../shared/secrets/keyVaultSecretProvider';
import { requireSecret, SettingsSecretProvider, type SecretProvider } from '../shared/secrets/secretProvider';
import type { Tenant } from '../shared/tenants/tenant';
import { CosmosAuditLog, CosmosMarkerStore, CosmosTenantRepository } from '../shared/cosmos';

/**
 * `npm run flows:send -- --tenant <id> --to <+447700900123 | US.13491208655302741918> [--flow-id <id>] [--phone-number-id <id>] [--ttl-hours 72] [--draft] [--marketing]`
 *
 * Sends the Privacy Centre flow to a WhatsApp number through the Graph API with a fresh flow token.
 * Settings come from the environment over local.settings.json, as `npm start` reads them; secrets from
 * Key Vault when KEY_VAULT_URL is set (the token must be issued with the same SUBJECT_HASH_KEY and
 * DATA_ENCRYPTION_KEY as the endpoint that will receive it). The flow id is `--flow-id` or
 * FLOWS_PRIVACY_CENTRE_FLOW_ID; the sending phone number id is `--phone-number-id` or the tenant's
 * first one (read from Cosmos), and the send is audited there. The number is never printed back.
 * `--to` takes a phone number or a business-scoped user id (a username user: sent as `recipient`).
 * `--marketing` marks the send as marketing: refused for a person who stopped marketing messages in
 * WhatsApp (`user_preferences`) or is on the suppression list; the refusal is audited and counted.
 */
export interface SendIo {
  cwd: string;
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  fetch: typeof fetch;
  clock?: Clock;
  secrets?: SecretProvider;
}

const USAGE =
  'usage: npm run flows:send -- --tenant <id> --to <+447700900123 | US.13491208655302741918> [--flow-id <id>] [--phone-number-id <id>] [--ttl-hours 72] [--draft] [--marketing]';

export async function main(argv: string[], io: SendIo): Promise<number> {
  const parsed = scriptArguments(
    argv,
    { tenant: { type: 'string' }, to: { type: 'string' }, 'flow-id': { type: 'string' }, 'phone-number-id': { type: 'string' }, 'ttl-hours': { type: 'string' }, draft: { type: 'boolean' }, marketing: { type: 'boolean' } },
    USAGE,
    io,
  );
  if ('exitCode' in parsed) return parsed.exitCode;
  const args = parsed.values;
  const env = localEnvironment(io.cwd, io.env).values;
  const problems: string[] = [];
  const tenantId = tenantIdSchema.safeParse(args.tenant);
  if (!tenantId.success) problems.push('--tenant is required: 1-63 lowercase letters, digits or dashes');
  const subject = identifierOf(args.to ?? '');
  if (!subject) problems.push('--to is required: a phone number in E.164 (+447700900123), wa_id digits, or a business-scoped user id (US.13491208655302741918)');
  const flowId = (args['flow-id'] ?? env.FLOWS_PRIVACY_CENTRE_FLOW_ID ?? '').trim();
  if (!/^\d{5,25}$/.test(flowId)) problems.push('--flow-id (or FLOWS_PRIVACY_CENTRE_FLOW_ID) is required: the published flow id from WhatsApp Manager');
  const ttlHours = Number(args['ttl-hours'] ?? '72');
  if (!Number.isInteger(ttlHours) || ttlHours < 1 || ttlHours > 720) problems.push('--ttl-hours must be a whole number of hours between 1 and 720');
  const givenPhoneId = args['phone-number-id'];
  if (givenPhoneId !== undefined && !/^\d{5,20}$/.test(givenPhoneId)) problems.push('--phone-number-id must be digits');
  if (!tenantId.success || !subject || problems.length > 0) {
    io.err(`${problems.join('\n')}\n${USAGE}`);
    return 2;
  }

  const clock = io.clock ?? systemClock;
  const secrets = io.secrets ?? (env.KEY_VAULT_URL?.trim() ? new KeyVaultSecretProvider(env.KEY_VAULT_URL.trim()) : new SettingsSecretProvider(env));
  const cosmos = env.COSMOS_CONNECTION?.trim() ? openCosmos(env.COSMOS_CONNECTION.trim(), env.COSMOS_DATABASE?.trim() || 'flowkeeper', clock) : undefined;
  try {
    const tenant = cosmos ? await cosmos.tenants.get(tenantId.data) : undefined;
    if (cosmos && !tenant) {
      io.err(`Tenant ${tenantId.data} does not exist.`);
      return 1;
    }
    const phoneNumberId = givenPhoneId ?? tenant?.phoneNumberIds[0];
    if (!phoneNumberId) {
      io.err('--phone-number-id is required when the tenant cannot be read (set COSMOS_CONNECTION to read it)');
      return 2;
    }
    let keys;
    let accessToken;
    try {
      keys = { subjectHashKey: await requireSecret(secrets, 'SUBJECT_HASH_KEY'), dataKeyring: await dataKeyring(secrets) };
      accessToken = await requireSecret(secrets, 'WHATSAPP_ACCESS_TOKEN');
    } catch (error) {
      io.err(error instanceof Error ? error.message : 'a secret is missing');
      return 1;
    }
    const subjectHash = identifierHashOf(keys.subjectHashKey, tenantId.data, subject);
    if (args.marketing) {
      if (!cosmos) {
        io.err('--marketing needs COSMOS_CONNECTION: the marketing preference is read from Cosmos');
        return 2;
      }
      const refusal = await marketingRefusal(cosmos.markers, tenantId.data, subjectHash);
      if (refusal) {
        await cosmos.audit.record({ tenantId: tenantId.data, type: 'flow.send.refused', subjectHash, actor: `cli:${env.USER ?? env.USERNAME ?? 'unknown'}`, details: { reason: refusal, purpose: 'privacy-centre' } });
        io.err(refusal === 'whatsapp-stop' ? 'Not sent: this person stopped marketing messages in WhatsApp.' : 'Not sent: this person is on the suppression list (opted out).');
        return 3;
      }
    }
    const result = await sendFlow(
      { fetch: io.fetch, graphApiBaseUrl: env.GRAPH_API_BASE_URL?.trim() || 'https://graph.facebook.com/v23.0', accessToken, keys, now: clock.now() },
      {
        tenantId: tenantId.data,
        subject,
        phoneNumberId,
        flowId,
        purpose: 'privacy-centre',
        ttlSeconds: ttlHours * 3600,
        mode: args.draft ? 'draft' : 'published',
        headerText: 'Privacy Centre',
        bodyText: bodyText(tenant),
        cta: 'Open Privacy Centre',
      },
    );
    if (!result.ok) {
      io.err(`The Graph API refused the message: HTTP ${result.status}${result.code !== undefined ? `, code ${result.code}` : ''}: ${result.message}`);
      return 1;
    }
    await cosmos?.audit.record({
      tenantId: tenantId.data,
      type: 'flow.sent',
      subjectHash,
      actor: `cli:${env.USER ?? env.USERNAME ?? 'unknown'}`,
      details: { purpose: 'privacy-centre', messageId: result.messageId, phoneNumberId, expiresAt: result.expiresAt.toISOString() },
    });
    io.out(`Sent the Privacy Centre flow (message ${result.messageId}); its link works until ${result.expiresAt.toISOString()}.`);
    return 0;
  } finally {
    cosmos?.close();
  }
}

function bodyText(tenant: Tenant | undefined): string {
  const who = tenant?.name ?? 'we';
  return `See what ${who} ${tenant ? 'holds' : 'hold'} about you, delete all or part of it, stop marketing messages, or check an earlier request.`;
}

function openCosmos(connectionString: string, database: string, clock: Clock) {
  const client = cosmosClientFor({ connectionString });
  const containers = cosmosContainers(client, database);
  return {
    tenants: new CosmosTenantRepository(containers.tenants, clock),
    audit: new CosmosAuditLog(containers.audit, clock),
    markers: new CosmosMarkerStore(containers.markers, clock),
    close: () => client.dispose(),
  };
}


if (require.main === module) {
  void main(process.argv.slice(2), {
    cwd: process.cwd(),
    env: process.env,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    fetch: globalThis.fetch,
  }).then((code) => {
    process.exitCode = code;
  });
}
