import './startupCheck';
import { app, type InvocationContext } from '@azure/functions';
import { compositionRoot } from '../shared/runtime';
import { downloadMedia } from '../shared/whatsapp';

/** `media-downloads`: fetch a media file from the Graph API into Blob under the subject's prefix. */
export async function mediaDownloads(message: unknown, context: InvocationContext): Promise<void> {
  const outcome = await downloadMedia((await compositionRoot()).mediaDownload, message);
  context.log(`media download ${outcome} (delivery ${String(context.triggerMetadata?.deliveryCount ?? 1)})`);
}

app.serviceBusQueue('mediaDownloads', { queueName: 'media-downloads', connection: 'SERVICEBUS_CONNECTION', handler: mediaDownloads });
