ALTER TABLE "reports" ADD COLUMN "resend_request_id" uuid;--> statement-breakpoint
ALTER TABLE "reports" ADD COLUMN "resend_requested_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "reports" ADD COLUMN "resend_state" text;--> statement-breakpoint
ALTER TABLE "reports" ADD COLUMN "resend_error" text;--> statement-breakpoint
CREATE INDEX "reports_resend_pending_idx" ON "reports" USING btree ("resend_requested_at") WHERE "reports"."resend_state" = 'pending';--> statement-breakpoint
ALTER TABLE "reports" ADD CONSTRAINT "reports_resend_state_check" CHECK ("reports"."resend_state" in ('pending', 'sent', 'failed'));