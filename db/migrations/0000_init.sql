CREATE TABLE "segment_dependencies" (
	"segment_id" uuid NOT NULL,
	"depends_on_segment_id" uuid NOT NULL,
	CONSTRAINT "segment_dependencies_pk" PRIMARY KEY("segment_id","depends_on_segment_id"),
	CONSTRAINT "segment_dependencies_self_ck" CHECK ("segment_dependencies"."segment_id" <> "segment_dependencies"."depends_on_segment_id")
);
--> statement-breakpoint
CREATE TABLE "segment_rules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"segment_id" uuid NOT NULL,
	"position" smallint NOT NULL,
	"event_type" text NOT NULL,
	"attribute" text NOT NULL,
	"field" text,
	"operator" text NOT NULL,
	"value" double precision NOT NULL,
	"window_minutes" integer NOT NULL,
	CONSTRAINT "segment_rules_window_ck" CHECK ("segment_rules"."window_minutes" between 1 and 1440),
	CONSTRAINT "segment_rules_field_ck" CHECK (("segment_rules"."attribute" = 'sum') = ("segment_rules"."field" is not null))
);
--> statement-breakpoint
CREATE TABLE "segment_versions" (
	"segment_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"definition" jsonb NOT NULL,
	"changed_by" text NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "segment_versions_pk" PRIMARY KEY("segment_id","version")
);
--> statement-breakpoint
CREATE TABLE "segments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"type" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"logical_expression" text,
	"expression_tree" jsonb,
	"created_by" text NOT NULL,
	"updated_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "segments_type_ck" CHECK ("segments"."type" in ('INDEPENDENT','DERIVED')),
	CONSTRAINT "segments_shape_ck" CHECK (("segments"."type" = 'DERIVED') = ("segments"."logical_expression" is not null)),
	CONSTRAINT "segments_version_ck" CHECK ("segments"."version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "user_segment_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"segment_id" uuid NOT NULL,
	"entered_at" timestamp with time zone NOT NULL,
	"exited_at" timestamp with time zone,
	"enter_cause" text NOT NULL,
	"exit_cause" text,
	"definition_version" integer NOT NULL,
	CONSTRAINT "user_segment_history_exit_ck" CHECK (("user_segment_history"."exited_at" is null) = ("user_segment_history"."exit_cause" is null))
);
--> statement-breakpoint
CREATE TABLE "user_segment_memberships" (
	"user_id" text NOT NULL,
	"segment_id" uuid NOT NULL,
	"entered_at" timestamp with time zone NOT NULL,
	"definition_version" integer NOT NULL,
	CONSTRAINT "user_segment_memberships_pk" PRIMARY KEY("user_id","segment_id")
);
--> statement-breakpoint
CREATE TABLE "user_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"event_type" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"session_id" text,
	"device_id" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_profiles" (
	"user_id" text PRIMARY KEY NOT NULL,
	"email" text,
	"phone" text,
	"device_tokens" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"timezone" text,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaign_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"campaign_id" uuid NOT NULL,
	"status" text NOT NULL,
	"requested_by" text NOT NULL,
	"scheduled_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"total" integer,
	"cursor" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "campaign_sends" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"idempotency_key" text NOT NULL,
	"campaign_id" uuid NOT NULL,
	"run_id" uuid,
	"user_id" text NOT NULL,
	"channel" text NOT NULL,
	"transition_id" text,
	"status" text NOT NULL,
	"reason" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"provider_message_id" text,
	"next_attempt_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"segment_id" uuid NOT NULL,
	"channel_type" text NOT NULL,
	"trigger" text NOT NULL,
	"subject" text,
	"template" text NOT NULL,
	"status" text DEFAULT 'DRAFT' NOT NULL,
	"scheduled_at" timestamp with time zone,
	"policy" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaigns_subject_ck" CHECK ("campaigns"."channel_type" <> 'email' or "campaigns"."subject" is not null)
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"before" jsonb,
	"after" jsonb,
	"trace_id" text
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"payload" jsonb NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "processor_checkpoints" (
	"group_id" text NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"offset" text NOT NULL,
	"snapshot" "bytea" NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processor_checkpoints_pk" PRIMARY KEY("group_id","topic","partition")
);
--> statement-breakpoint
CREATE TABLE "segment_evaluation_progress" (
	"segment_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"version" integer NOT NULL,
	"users_total" integer NOT NULL,
	"users_remaining" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "segment_evaluation_progress_pk" PRIMARY KEY("segment_id","instance_id")
);
--> statement-breakpoint
ALTER TABLE "segment_dependencies" ADD CONSTRAINT "segment_dependencies_segment_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."segments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "segment_dependencies" ADD CONSTRAINT "segment_dependencies_depends_on_fk" FOREIGN KEY ("depends_on_segment_id") REFERENCES "public"."segments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "segment_rules" ADD CONSTRAINT "segment_rules_segment_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."segments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "segment_versions" ADD CONSTRAINT "segment_versions_segment_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."segments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_segment_history" ADD CONSTRAINT "user_segment_history_segment_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."segments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_segment_memberships" ADD CONSTRAINT "user_segment_memberships_segment_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."segments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_runs" ADD CONSTRAINT "campaign_runs_campaign_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaign_sends" ADD CONSTRAINT "campaign_sends_campaign_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_segment_fk" FOREIGN KEY ("segment_id") REFERENCES "public"."segments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "segment_dependencies_depends_on_idx" ON "segment_dependencies" USING btree ("depends_on_segment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "segment_rules_position_uq" ON "segment_rules" USING btree ("segment_id","position");--> statement-breakpoint
CREATE UNIQUE INDEX "segments_name_live_uq" ON "segments" USING btree (lower("name")) WHERE "segments"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "segments_list_idx" ON "segments" USING btree ("created_at","id") WHERE "segments"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "user_segment_history_user_idx" ON "user_segment_history" USING btree ("user_id","entered_at" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "user_segment_history_entry_uq" ON "user_segment_history" USING btree ("user_id","segment_id","entered_at");--> statement-breakpoint
CREATE INDEX "user_segment_history_segment_entered_idx" ON "user_segment_history" USING btree ("segment_id","entered_at");--> statement-breakpoint
CREATE INDEX "user_segment_history_segment_exited_idx" ON "user_segment_history" USING btree ("segment_id","exited_at");--> statement-breakpoint
CREATE INDEX "user_segment_memberships_segment_idx" ON "user_segment_memberships" USING btree ("segment_id","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "user_events_event_uq" ON "user_events" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "user_events_user_idx" ON "user_events" USING btree ("user_id","occurred_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "user_events_occurred_idx" ON "user_events" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "campaign_runs_campaign_idx" ON "campaign_runs" USING btree ("campaign_id","created_at");--> statement-breakpoint
CREATE INDEX "campaign_runs_due_idx" ON "campaign_runs" USING btree ("status","scheduled_at");--> statement-breakpoint
CREATE UNIQUE INDEX "campaign_sends_idempotency_uq" ON "campaign_sends" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "campaign_sends_campaign_idx" ON "campaign_sends" USING btree ("campaign_id","created_at");--> statement-breakpoint
CREATE INDEX "campaign_sends_run_idx" ON "campaign_sends" USING btree ("run_id","status");--> statement-breakpoint
CREATE INDEX "campaign_sends_user_idx" ON "campaign_sends" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "campaign_sends_due_idx" ON "campaign_sends" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "campaigns_segment_idx" ON "campaigns" USING btree ("segment_id","status");--> statement-breakpoint
CREATE INDEX "campaigns_status_idx" ON "campaigns" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "audit_log_entity_idx" ON "audit_log" USING btree ("entity_type","entity_id","at");--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("actor","at");--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_hash_uq" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "api_keys_created_idx" ON "api_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "outbox_pending_idx" ON "outbox" USING btree ("id") WHERE "outbox"."published_at" is null;