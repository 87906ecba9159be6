CREATE TABLE "books_cache_debts" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"owed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "books_cache_debts" ADD CONSTRAINT "books_cache_debts_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;