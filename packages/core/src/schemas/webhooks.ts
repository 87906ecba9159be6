// Completion webhooks: the /me/webhook routes' bodies and answers, the events the report worker
// drains from Redis, and the body it POSTs (Standard Webhooks: `type`, `timestamp`, `data`).
import Type, { type Static } from 'typebox';
import { BulkRequestEventSchema } from './bulk.js';
import { Nullable, SINGLE_LINE_PATTERN, SuccessEnvelope, Timestamp } from './common.js';

export const WebhookEventTypeSchema = Type.Union([
  Type.Literal('bulk_request.completed'),
  Type.Literal('bulk_request.failed'),
  Type.Literal('bulk_request.cancelled'),
  Type.Literal('webhook.test'),
]);
export type WebhookEventType = Static<typeof WebhookEventTypeSchema>;

export const WebhookUrlBodySchema = Type.Object({
  url: Type.String({
    minLength: 1,
    maxLength: 2048,
    pattern: SINGLE_LINE_PATTERN,
    description:
      'an https:// URL whose host resolves only to public addresses (no loopback, private, link-local, unique-local, CGNAT or metadata address)',
  }),
});
export type WebhookUrlBody = Static<typeof WebhookUrlBodySchema>;

export const WebhookSchema = Type.Object({
  url: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Webhook = Static<typeof WebhookSchema>;

export const WebhookResponseSchema = SuccessEnvelope(WebhookSchema);

/** PUT /me/webhook: the only answer that ever shows the secret. */
export const WebhookSetResponseSchema = SuccessEnvelope(
  Type.Object({
    ...WebhookSchema.properties,
    secret: Type.String({
      pattern: '^whsec_[A-Za-z0-9+/=]+$',
      description: 'the Standard Webhooks signing secret (whsec_<base64>): shown this once; a new PUT replaces it',
    }),
  }),
);

export const WebhookTestAcceptedSchema = SuccessEnvelope(
  Type.Object({
    deliveryId: Type.String({ description: 'the webhook-id the test event is sent with; see GET /me/webhook/deliveries' }),
    eventType: Type.Literal('webhook.test'),
  }),
);

export const WebhookDeliveryStateSchema = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]);
export type WebhookDeliveryState = Static<typeof WebhookDeliveryStateSchema>;

export const WebhookAttemptSchema = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  at: Timestamp,
  status: Nullable(Type.Integer({ description: "the receiver's HTTP status; null when it gave none (refused, timed out, unreachable)" })),
  durationMs: Type.Integer({ minimum: 0 }),
  error: Nullable(Type.String({ description: 'why the attempt failed; null when it succeeded' })),
});
export type WebhookAttempt = Static<typeof WebhookAttemptSchema>;

export const WebhookDeliverySchema = Type.Object({
  id: Type.String({ description: 'the webhook-id header, the same on every attempt' }),
  eventType: WebhookEventTypeSchema,
  requestId: Nullable(Type.String({ format: 'uuid' })),
  state: WebhookDeliveryStateSchema,
  createdAt: Timestamp,
  nextAttemptAt: Nullable({ ...Timestamp, description: 'pending: when it is tried next' }),
  deliveredAt: Nullable(Timestamp),
  giveUpAt: { ...Timestamp, description: 'a pending delivery still failing then is failed' },
  attempts: Type.Array(WebhookAttemptSchema, { description: 'every attempt, oldest first' }),
});
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;

export const WebhookDeliveriesQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
});
export type WebhookDeliveriesQuery = Static<typeof WebhookDeliveriesQuerySchema>;

export const WebhookDeliveriesPageSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Array(WebhookDeliverySchema, { description: 'newest first' }),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

/** `webhook_events`: a test event, queued by POST /me/webhook/test beside the transitions' BulkRequestEvents. */
export const WebhookTestEventSchema = Type.Object({
  type: Type.Literal('webhook.test'),
  userId: Type.String({ minLength: 1 }),
  /** Makes each test event (and so its delivery id) distinct. */
  eventId: Type.String({ minLength: 1 }),
  at: Type.String({ minLength: 1 }),
});
export type WebhookTestEvent = Static<typeof WebhookTestEventSchema>;

/** Anything on `webhook_events`: re-validated by the report worker, which did not write it. */
export const WebhookEventSchema = Type.Union([BulkRequestEventSchema, WebhookTestEventSchema]);
export type WebhookEvent = Static<typeof WebhookEventSchema>;

/** The body POSTed to a webhook for a request that reached a final stage. */
export const BulkRequestWebhookPayloadSchema = Type.Object({
  type: Type.Union([Type.Literal('bulk_request.completed'), Type.Literal('bulk_request.failed'), Type.Literal('bulk_request.cancelled')]),
  timestamp: { ...Timestamp, description: 'when the request reached the stage' },
  data: Type.Object({
    requestId: Type.String({ format: 'uuid' }),
    submitted: Type.Integer({ minimum: 0 }),
    inserted: Type.Integer({ minimum: 0 }),
    failed: Type.Integer({ minimum: 0 }),
    finishedAt: Timestamp,
    links: Type.Object({
      request: Type.String({ description: 'GET: the request (PUBLIC_BASE_URL/books/bulk/<id>)' }),
      failures: Type.String({ description: 'GET: its failed items' }),
    }),
  }),
});

/** The body of a test event. */
export const TestWebhookPayloadSchema = Type.Object({
  type: Type.Literal('webhook.test'),
  timestamp: Timestamp,
  data: Type.Object({ message: Type.String() }),
});

export const WebhookPayloadSchema = Type.Union([BulkRequestWebhookPayloadSchema, TestWebhookPayloadSchema]);
export type WebhookPayload = Static<typeof WebhookPayloadSchema>;
