ALTER TABLE "books" ADD COLUMN "bulk_request_id" uuid;--> statement-breakpoint
ALTER TABLE "books" ADD COLUMN "bulk_item_index" integer;--> statement-breakpoint
CREATE UNIQUE INDEX "books_bulk_item_key" ON "books" USING btree ("bulk_request_id","bulk_item_index");