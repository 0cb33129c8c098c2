import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../shared/queue';
import { literalOf, parseBicep, valueAt } from '../infra/bicep';

const ROOT = path.resolve(__dirname, '../..');

interface EmulatorQueue {
  Name: string;
  Properties: Record<string, string | number | boolean>;
}

const config = JSON.parse(readFileSync(path.join(__dirname, 'servicebus-emulator/config.json'), 'utf8')) as {
  UserConfig: { Namespaces: { Queues: EmulatorQueue[] }[] };
};
const emulatorQueues = config.UserConfig.Namespaces.flatMap((n) => n.Queues);
const serviceBus = parseBicep(readFileSync(path.join(ROOT, 'infra/modules/serviceBus.bicep'), 'utf8'), 'infra/modules/serviceBus.bicep');
const queueResource = serviceBus.resources.find((r) => r.type === 'Microsoft.ServiceBus/namespaces/queues')!;

/** Bicep property of the queues -> the emulator's name for it (Config-schema.json of the emulator installer). */
const SAME_SETTINGS: Record<string, string> = {
  maxDeliveryCount: 'MaxDeliveryCount',
  requiresDuplicateDetection: 'RequiresDuplicateDetection',
  duplicateDetectionHistoryTimeWindow: 'DuplicateDetectionHistoryTimeWindow',
  lockDuration: 'LockDuration',
  deadLetteringOnMessageExpiration: 'DeadLetteringOnMessageExpiration',
  requiresSession: 'RequiresSession',
};

describe('the Service Bus emulator configuration of the contract tests', () => {
  it('declares exactly the queues the app uses', () => {
    expect(emulatorQueues.map((q) => q.Name).sort()).toEqual([...QUEUE_NAMES].sort());
  });

  it('gives every queue the settings infra/modules/serviceBus.bicep gives it, so the contract tests meet the same broker behaviour', () => {
    for (const queue of emulatorQueues) {
      for (const [bicep, emulator] of Object.entries(SAME_SETTINGS)) {
        const expected = literalOf(valueAt(queueResource.body, `properties.${bicep}`));
        expect(queue.Properties[emulator], `${queue.Name}: ${emulator} (Bicep ${bicep})`).toBe(expected);
      }
      // The one deliberate difference: the emulator caps message time-to-live at one hour (P14D in Azure).
      expect(queue.Properties.DefaultMessageTimeToLive).toBe('PT1H');
    }
  });
});
