import { loadSettings, SettingsError } from '../../shared/config';

/** The settings a start-up cannot do without, with harmless values: tests add the setting under test. */
export const MINIMAL_SETTINGS = {
  WHATSAPP_APP_SECRET: 's',
  WHATSAPP_VERIFY_TOKEN: 'v',
  SUBJECT_HASH_KEY: 'k'.repeat(32),
  DATA_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
  COSMOS_CONNECTION: 'AccountEndpoint=http://127.0.0.1:1/;AccountKey=a;',
  MEDIA_STORAGE: 'UseDevelopmentStorage=true',
} as const;

/** What start-up would say is wrong with this environment (none: an empty list). */
export function settingsProblemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadSettings(env);
  } catch (error) {
    if (error instanceof SettingsError) return error.problems;
    throw error;
  }
  return [];
}
