// What a webhook receives for an event: `type`, `timestamp` and `data`, as Standard Webhooks
// suggests, with links into the API (PUBLIC_BASE_URL) for what the body does not carry.
import type { WebhookEvent, WebhookPayload } from '@books/core/schemas';

export function webhookPayload(event: WebhookEvent, publicBaseUrl: string): WebhookPayload {
  if (event.type === 'webhook.test') {
    return { type: 'webhook.test', timestamp: event.at, data: { message: 'A test event from the Books service: your webhook works.' } };
  }
  const request = `${publicBaseUrl}/books/bulk/${event.requestId}`;
  return {
    type: event.type,
    timestamp: event.at,
    data: {
      requestId: event.requestId,
      submitted: event.submitted,
      inserted: event.inserted,
      failed: event.failed,
      finishedAt: event.at,
      links: { request, failures: `${request}/failures` },
    },
  };
}
