import { describe, expect, it } from 'vitest';
import { CachedSecretProvider, type SecretKey, type SecretProvider } from '../../shared/secrets';
import { ManualClock } from '../doubles';

/** A source that counts its reads, answering what `values` holds now. */
function countingSource(values: Map<SecretKey, string>) {
  const reads: SecretKey[] = [];
  const source: SecretProvider = {
    get: async (name) => {
      reads.push(name);
      await new Promise((r) => setTimeout(r, 5));
      return values.get(name);
    },
  };
  return { source, reads };
}

describe('a suspected rotation re-reads a cached secret, rate-limited', () => {
  it('concurrent callers share one re-read; a second within 30 s reads nothing; after 30 s it reads again', async () => {
    const clock = new ManualClock();
    const values = new Map<SecretKey, string>([['WHATSAPP_APP_SECRET', 'one']]);
    const { source, reads } = countingSource(values);
    const cached = new CachedSecretProvider(source, 300_000, clock);
    expect(await cached.get('WHATSAPP_APP_SECRET')).toBe('one');
    values.set('WHATSAPP_APP_SECRET', 'two');
    expect(await cached.get('WHATSAPP_APP_SECRET')).toBe('one'); // the cache lifetime alone would wait 5 minutes

    const changed = await Promise.all(Array.from({ length: 20 }, () => cached.refresh(['WHATSAPP_APP_SECRET'])));
    expect(changed.every(Boolean)).toBe(true);
    expect(reads).toHaveLength(2);
    expect(await cached.get('WHATSAPP_APP_SECRET')).toBe('two');

    clock.advance(29_000);
    expect(await cached.refresh(['WHATSAPP_APP_SECRET'])).toBe(true); // the answer of the shared re-read
    expect(reads).toHaveLength(2);
    clock.advance(2_000);
    expect(await cached.refresh(['WHATSAPP_APP_SECRET'])).toBe(false); // read again: unchanged
    expect(reads).toHaveLength(3);
    expect(cached.refreshCount).toBe(2);
  });

  it('a secret that did not exist before (a first rotation\'s -PREVIOUS) is found by the re-read', async () => {
    const clock = new ManualClock();
    const values = new Map<SecretKey, string>();
    const { source } = countingSource(values);
    const cached = new CachedSecretProvider(source, 300_000, clock);
    expect(await cached.get('WHATSAPP_APP_SECRET_PREVIOUS')).toBeUndefined();
    values.set('WHATSAPP_APP_SECRET_PREVIOUS', 'old');
    expect(await cached.refresh(['WHATSAPP_APP_SECRET_PREVIOUS'])).toBe(true);
    expect(await cached.get('WHATSAPP_APP_SECRET_PREVIOUS')).toBe('old');
  });

  it('a failed re-read is not cached: the next get reads the source again', async () => {
    const clock = new ManualClock();
    let fail = true;
    const cached = new CachedSecretProvider({ get: async () => (fail ? Promise.reject(new Error('Key Vault unavailable')) : 'v') }, 300_000, clock);
    expect(await cached.refresh(['DATA_ENCRYPTION_KEY'])).toBe(false);
    fail = false;
    expect(await cached.get('DATA_ENCRYPTION_KEY')).toBe('v');
  });
});
