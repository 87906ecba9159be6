// Reports as resources (GET /reports…): what the API shows of a stored report, never its PDF bytes
// (GET /reports/:id/pdf sends those), and the resend request the API queues for the report worker.
import Type, { type Static } from 'typebox';
import { Nullable, Timestamp, UuidSchema } from './common.js';

export const ReportDeliveryStateSchema = Type.Union([Type.Literal('sending'), Type.Literal('sent'), Type.Literal('failed')], {
  description: 'sending: being sent or awaiting a retry; sent: the mail server accepted it; failed: given up',
});
export type ReportDeliveryState = Static<typeof ReportDeliveryStateSchema>;

export const ReportResendStateSchema = Type.Union([Type.Literal('pending'), Type.Literal('sent'), Type.Literal('failed')]);
export type ReportResendState = Static<typeof ReportResendStateSchema>;

export const ReportResendViewSchema = Type.Object({
  // Null if no resend was asked for (or the worker has not taken the request in yet: within seconds).
  state: Nullable(ReportResendStateSchema),
  requestedAt: Nullable(Timestamp),
  count: Type.Integer({ description: 'resends sent so far' }),
  lastResentAt: Nullable(Timestamp),
  lastMessageId: Nullable(Type.String({ description: 'the Message-ID of the latest resend (each has its own)' })),
  error: Nullable(Type.String({ description: 'why the latest resend failed, readable' })),
});

export const ReportSchema = Type.Object({
  id: UuidSchema,
  requestIds: Type.Array(UuidSchema, { description: 'the bulk requests the report covers' }),
  subject: Type.String(),
  filename: Type.String({ description: 'the PDF attachment’s file name, also used by GET /reports/{id}/pdf' }),
  createdAt: Timestamp,
  sentAt: Nullable(Type.String({ format: 'date-time', description: 'when the mail server accepted it' })),
  messageId: Type.String({ description: 'the Message-ID of the first send' }),
  deliveryState: ReportDeliveryStateSchema,
  deliveryError: Nullable(Type.String()),
  bytes: Type.Integer({ description: 'size of the PDF' }),
  expiresAt: Timestamp,
  pdfUrl: Type.String({ description: 'where to download the PDF' }),
  resend: ReportResendViewSchema,
});
export type Report = Static<typeof ReportSchema>;

export const ReportEnvelopeSchema = Type.Object({ success: Type.Literal(true), data: ReportSchema });

export const ReportListQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
});
export type ReportListQuery = Static<typeof ReportListQuerySchema>;

export const ReportListResponseSchema = Type.Object({
  success: Type.Literal(true),
  data: Type.Array(ReportSchema),
  total: Type.Integer({ description: 'reports on record' }),
  limit: Type.Integer(),
  offset: Type.Integer(),
});

/** GET /books/bulk/:requestId/report: the report that covered the request, and where it lives. */
export const BulkRequestReportResponseSchema = Type.Object({
  success: Type.Literal(true),
  data: ReportSchema,
  links: Type.Object({ self: Type.String({ description: 'GET /reports/{id}' }), pdf: Type.String() }),
});

export const ReportResendAcceptedSchema = Type.Object({
  success: Type.Literal(true),
  message: Type.String(),
  data: Type.Object({ resendId: UuidSchema, reportId: UuidSchema, requestedAt: Timestamp }),
});

/** What the API pushes onto report_resends; another process wrote it, so the worker checks it. */
export const ReportResendRequestSchema = Type.Object({
  id: UuidSchema,
  userId: UuidSchema,
  reportId: UuidSchema,
  requestedAt: Timestamp,
});
export type ReportResendRequest = Static<typeof ReportResendRequestSchema>;
