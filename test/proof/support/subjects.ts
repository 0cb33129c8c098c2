import { createHash, randomBytes } from 'node:crypto';
import type { TenantId } from '../../../shared/domain';
import type { GraphApiFake } from '../../fakes/graphApi';
import { messages, newMediaId, single } from '../../fixtures/whatsapp/payloads';
import { distinctTestMobile } from '../../support/subjects';
import type { TestServices } from '../../support/testServices';
import { subjectDocuments } from '../../whatsapp/support';

/** A data subject with distinctive personal data, so a sweep hit cannot be a coincidence. */
export interface ProofSubject {
  waId: string;
  name: string;
  text: string;
  answers: Record<string, string>;
  /** Name, text and answers; add phoneNeedles(waId) for the number in every written form. */
  needles: string[];
}

export function newProofSubject(): ProofSubject {
  const tag = randomBytes(4).toString('hex');
  const waId = distinctTestMobile();
  const name = `Tamsin Penrose-${tag}`;
  const text = `Is the flat on Lemon Street still free? My budget is ${tag} a month`;
  const answers = { full_name: name, email: `tamsin.${tag}@example.org`, postcode: `TR1 ${tag.toUpperCase()}`, employer: `employer-${tag}` };
  return { waId, name, text, answers, needles: [name, text, answers.email, answers.postcode, answers.employer] };
}

export interface SubjectTraffic {
  /** One delivery each: a text message, an image (served by the Graph fake), a completed flow. */
  payloads: Record<string, unknown>[];
  mediaId: string;
}

/** The deliveries Meta would send for a subject: what production turns into a contact, messages, media and a flow response. */
export function trafficFor(phoneNumberId: string, subject: ProofSubject, graph: GraphApiFake): SubjectTraffic {
  const mediaId = newMediaId();
  const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(1024), Buffer.from(`EXIF ${subject.name}`)]);
  const { webhookSha256 } = graph.addMedia(mediaId, { bytes, mimeType: 'image/jpeg' });
  const flowToken = `lead-${createHash('sha256').update(subject.waId).digest('hex').slice(0, 8)}`;
  return {
    mediaId,
    payloads: [
      single(phoneNumberId, subject.waId, messages.text(subject.waId, subject.text), subject.name),
      single(phoneNumberId, subject.waId, messages.image(subject.waId, { id: mediaId, sha256: webhookSha256 }, `photo for ${subject.name}`), subject.name),
      single(phoneNumberId, subject.waId, messages.flowCompletion(subject.waId, { flow_token: flowToken, screen: 'LEAD', ...subject.answers }), subject.name),
    ],
  };
}

/** The subject's documents counted by type, and whether any Meta message id appears twice within a type. */
export async function documentCensus(s: TestServices, tenantId: TenantId, waId: string): Promise<{ byType: Record<string, number>; duplicated: string[]; mediaStored: number }> {
  const docs = await subjectDocuments(s, tenantId, waId);
  const byType: Record<string, number> = {};
  const seen = new Set<string>();
  const duplicated: string[] = [];
  for (const doc of docs) {
    const type = String(doc.type);
    byType[type] = (byType[type] ?? 0) + 1;
    if (typeof doc.messageId === 'string') {
      const key = `${type}:${doc.messageId}`;
      if (seen.has(key)) duplicated.push(key);
      seen.add(key);
    }
  }
  return { byType, duplicated, mediaStored: docs.filter((d) => d.type === 'mediaRef' && d.status === 'stored').length };
}

/** What the three deliveries of `trafficFor` leave when each was processed exactly once (tenant in `encrypted` mode). */
export const ONCE = { contact: 1, message: 2, mediaRef: 1, flowResponse: 1 };
