import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { scriptArguments } from '../cli/args';
import { tenantIdSchema } from '../shared/domain/ids';
import { flowsKeySecretNames } from '../shared/flows/flowKeys';
import { keyVaultNameOf } from '../shared/secrets/keyVaultSecretProvider';
import type { SecretKey } from '../shared/secrets/secretProvider';

/**
 * `npm run flows:keygen -- [--tenant <id>] [--passphrase <text>] [--key-vault <name>] [--upload <phone-number-id>]`
 *
 * Creates the RSA-2048 key pair of the WhatsApp Flows endpoint. The private key is PKCS#8 PEM encrypted
 * (AES-256-CBC) with a generated passphrase (or `--passphrase`). The public key is printed, with the
 * Graph API call that registers it for a phone number (`--upload` makes that call). The private key and
 * passphrase go where the secret provider reads them:
 * - by default into `local.settings.json` Values (created from local.settings.example.json if missing);
 * - with `--key-vault <name>`, into two files under `.local/flows-keys/` (mode 600) with the
 *   `az keyvault secret set` commands that store them, so the key never appears on a command line.
 * `--tenant` names the tenant's own key (`FLOWS_PRIVATE_KEY_<TENANT>`), else the app-wide one.
 */
export interface KeygenIo {
  cwd: string;
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  fetch: typeof fetch;
}

export async function main(argv: string[], io: KeygenIo): Promise<number> {
  const parsed = scriptArguments(
    argv,
    { tenant: { type: 'string' }, passphrase: { type: 'string' }, 'key-vault': { type: 'string' }, settings: { type: 'string' }, upload: { type: 'string' } },
    USAGE,
    io,
  );
  if ('exitCode' in parsed) return parsed.exitCode;
  const args = parsed.values;
  const tenant = args.tenant === undefined ? undefined : tenantIdSchema.safeParse(args.tenant);
  if (tenant && !tenant.success) {
    io.err('--tenant must be 1-63 lowercase letters, digits or dashes');
    return 2;
  }
  if (args.passphrase !== undefined && args.passphrase.length < 12) {
    io.err('--passphrase must be at least 12 characters');
    return 2;
  }
  if (args.upload !== undefined && !/^\d{5,20}$/.test(args.upload)) {
    io.err('--upload takes the WhatsApp phone number id (digits)');
    return 2;
  }

  const passphrase = args.passphrase ?? randomBytes(24).toString('base64url');
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase },
  });
  const names: { key: SecretKey; passphrase: SecretKey } = tenant?.success
    ? flowsKeySecretNames(tenant.data)
    : { key: 'FLOWS_PRIVATE_KEY', passphrase: 'FLOWS_PRIVATE_KEY_PASSPHRASE' };

  io.out('Public key of the WhatsApp Flows endpoint (upload it to Meta for each phone number):\n');
  io.out(publicKey.trim());
  io.out('\nRegister it with the Graph API:');
  io.out(
    `  curl -X POST "\${GRAPH_API_BASE_URL:-https://graph.facebook.com/v23.0}/<PHONE_NUMBER_ID>/whatsapp_business_encryption" \\\n` +
      `    -H "Authorization: Bearer $WHATSAPP_ACCESS_TOKEN" --data-urlencode "business_public_key=$(cat public.pem)"`,
  );

  if (args['key-vault']) {
    const dir = resolve(io.cwd, '.local', 'flows-keys');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyFile = join(dir, `${names.key}.pem`);
    const passphraseFile = join(dir, `${names.passphrase}.txt`);
    writeSecretFile(keyFile, privateKey);
    writeSecretFile(passphraseFile, passphrase);
    writeFileSync(join(dir, `${names.key}.public.pem`), publicKey);
    io.out(`\nThe private key and its passphrase are in ${dir} (readable by you only). Store them in Key Vault, then delete the files:`);
    io.out(`  az keyvault secret set --vault-name ${args['key-vault']} --name ${keyVaultNameOf(names.key)} --file "${keyFile}"`);
    io.out(`  az keyvault secret set --vault-name ${args['key-vault']} --name ${keyVaultNameOf(names.passphrase)} --file "${passphraseFile}"`);
    io.out(`  rm "${keyFile}" "${passphraseFile}"`);
  } else {
    const settingsPath = resolve(io.cwd, args.settings ?? 'local.settings.json');
    const settings = readSettings(settingsPath, resolve(io.cwd, 'local.settings.example.json'));
    settings.Values = { ...settings.Values, [names.key]: privateKey, [names.passphrase]: passphrase };
    writeSecretFile(settingsPath, `${JSON.stringify(settings, null, 2)}\n`);
    io.out(`\nThe private key and its passphrase are in ${settingsPath} as ${names.key} and ${names.passphrase} (git-ignored).`);
  }

  if (args.upload) {
    const base = (io.env.GRAPH_API_BASE_URL?.trim() || 'https://graph.facebook.com/v23.0').replace(/\/+$/, '');
    const token = io.env.WHATSAPP_ACCESS_TOKEN?.trim();
    if (!token) {
      io.err('--upload needs WHATSAPP_ACCESS_TOKEN in the environment');
      return 1;
    }
    const response = await io
      .fetch(`${base}/${args.upload}/whatsapp_business_encryption`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ business_public_key: publicKey }).toString(),
      })
      .catch(() => undefined);
    if (!response?.ok) {
      io.err(`Uploading the public key failed (${response ? `HTTP ${response.status}` : 'Graph API unreachable'}); upload it with the command above.`);
      return 1;
    }
    io.out(`\nThe public key is registered for phone number id ${args.upload}.`);
  }
  return 0;
}

const USAGE = `usage: npm run flows:keygen -- [--tenant <id>] [--passphrase <text>] [--key-vault <vault-name>] [--settings <path>] [--upload <phone-number-id>]`;

interface LocalSettingsFile {
  IsEncrypted?: boolean;
  Values?: Record<string, unknown>;
  [key: string]: unknown;
}

function readSettings(path: string, examplePath: string): LocalSettingsFile {
  const source = existsSync(path) ? path : existsSync(examplePath) ? examplePath : undefined;
  if (!source) return { IsEncrypted: false, Values: {} };
  return JSON.parse(readFileSync(source, 'utf8')) as LocalSettingsFile;
}

function writeSecretFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
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
