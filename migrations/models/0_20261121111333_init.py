from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "program" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "title" VARCHAR(300) NOT NULL,
    "slug" VARCHAR(120) NOT NULL UNIQUE,
    "description" TEXT NOT NULL,
    "category" VARCHAR(80),
    "language" VARCHAR(35),
    "tags" TEXT[] NOT NULL,
    "status" VARCHAR(12) NOT NULL,
    "publish_at" TIMESTAMPTZ,
    "cover_asset_id" BIGINT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_program_status_6b1d0f" ON "program" ("status", "publish_at");
CREATE INDEX IF NOT EXISTS "idx_program_created_657467" ON "program" ("created_at", "id");
CREATE INDEX IF NOT EXISTS "idx_program_tags_f8c636" ON "program" USING GIN ("tags");
COMMENT ON COLUMN "program"."status" IS 'DRAFT: DRAFT\nPUBLISHED: PUBLISHED\nARCHIVED: ARCHIVED';
CREATE TABLE IF NOT EXISTS "episode" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "title" VARCHAR(300) NOT NULL,
    "slug" VARCHAR(120) NOT NULL,
    "season" INT,
    "number" INT,
    "description" TEXT NOT NULL,
    "metadata" JSONB NOT NULL,
    "status" VARCHAR(12) NOT NULL,
    "publish_at" TIMESTAMPTZ,
    "source" VARCHAR(40),
    "external_id" VARCHAR(300),
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "program_id" BIGINT NOT NULL REFERENCES "program" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_episode_program_0186c5" UNIQUE ("program_id", "slug"),
    CONSTRAINT "uid_episode_source_6fa6d0" UNIQUE ("source", "external_id")
);
CREATE INDEX IF NOT EXISTS "idx_episode_program_888574" ON "episode" ("program_id", "season", "number");
CREATE INDEX IF NOT EXISTS "idx_episode_status_fec098" ON "episode" ("status", "publish_at");
CREATE INDEX IF NOT EXISTS "idx_episode_created_a0d59b" ON "episode" ("created_at", "id");
COMMENT ON COLUMN "episode"."status" IS 'DRAFT: DRAFT\nPUBLISHED: PUBLISHED\nARCHIVED: ARCHIVED';
CREATE TABLE IF NOT EXISTS "cms_user" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "subject" VARCHAR(255) NOT NULL UNIQUE,
    "display_name" VARCHAR(200),
    "email" VARCHAR(320),
    "roles" TEXT[] NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "last_seen_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS "asset" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(12) NOT NULL,
    "filename" VARCHAR(255) NOT NULL,
    "content_type" VARCHAR(120) NOT NULL,
    "size" BIGINT,
    "sha256" VARCHAR(64),
    "status" VARCHAR(12) NOT NULL,
    "failure_reason" TEXT,
    "probe" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "created_by_id" BIGINT REFERENCES "cms_user" ("id") ON DELETE SET NULL,
    "episode_id" BIGINT REFERENCES "episode" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_asset_sha256_78c330" ON "asset" ("sha256");
COMMENT ON COLUMN "asset"."kind" IS 'VIDEO: VIDEO\nAUDIO: AUDIO\nIMAGE: IMAGE\nDOCUMENT: DOCUMENT';
COMMENT ON COLUMN "asset"."status" IS 'UPLOADING: UPLOADING\nPROCESSING: PROCESSING\nREADY: READY\nFAILED: FAILED';
CREATE TABLE IF NOT EXISTS "comment" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "body" TEXT NOT NULL,
    "timecode" DOUBLE PRECISION,
    "resolved_at" TIMESTAMPTZ,
    "deleted_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "asset_id" BIGINT REFERENCES "asset" ("id") ON DELETE CASCADE,
    "author_id" BIGINT NOT NULL REFERENCES "cms_user" ("id") ON DELETE RESTRICT,
    "episode_id" BIGINT REFERENCES "episode" ("id") ON DELETE CASCADE,
    "parent_id" BIGINT REFERENCES "comment" ("id") ON DELETE CASCADE,
    "resolved_by_id" BIGINT REFERENCES "cms_user" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_comment_episode_a251fc" ON "comment" ("episode_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_comment_asset_i_3b2271" ON "comment" ("asset_id", "created_at");
CREATE TABLE IF NOT EXISTS "audit_entry" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "actor_subject" VARCHAR(255),
    "action" VARCHAR(60) NOT NULL,
    "entity_type" VARCHAR(40) NOT NULL,
    "entity_id" BIGINT NOT NULL,
    "before" JSONB,
    "after" JSONB,
    "request_id" VARCHAR(64),
    "at" TIMESTAMPTZ NOT NULL,
    "actor_id" BIGINT REFERENCES "cms_user" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_audit_entry_entity__3f0cd0" ON "audit_entry" ("entity_type", "entity_id");
CREATE INDEX IF NOT EXISTS "idx_audit_entry_at_2277b9" ON "audit_entry" ("at", "id");
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
ALTER TABLE "program" ADD CONSTRAINT "fk_program_cover_asset"
    FOREIGN KEY ("cover_asset_id") REFERENCES "asset" ("id") ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS "idx_episode_publish_at" ON "episode" ("publish_at", "id");
CREATE INDEX IF NOT EXISTS "idx_program_publish_at" ON "program" ("publish_at", "id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXW1z2jgQ/isef2pncp0EyMtlbm6GgtNyRyBDSK/XpuMRRhBfjUxtuS3Xy38/SX5/re"
    "2AMY4+YSStbZ6VV7v7rMwPcaXPoWa+6umrFURYvBR+iAisIDmIdh0JIliv/Q7agMFMY2OV"
    "wKCZiQ2g0HMtgGZC0jSHpmKoa6zqiLQiS9Noo66QgSpa+k0WUr9YUMb6EuIHaJCOj59Is4"
    "rm8Ds06dcf4kKF2pwdi3CtmuRWZHVOr6sYEGA4lwEWqRD8vjagaZJLmu55nB/mXAxv1uzW"
    "RTaY3DL78ngkhK4BTBPi7V6BDlx/ltlFQoDbV2Htsiv7Wl0OEL5iYyloM1nRNWuF/PHrDX"
    "7QkSeg2lpYQgQNerekDRsW1QK9K0dfrmJswP0hNtIBmTlcAEvDAa3NZL9NlOXReCrfSlNZ"
    "FgvoWSGQETjIrZoMgCW9hV9+bbXa7fPWcfvs4rRzfn56cXxBxrL7jXedP9o346Nln4phNn"
    "gzGE3pDelkItoTlDY8MhmAgewr2Ed/ps83cfynRHHJ6LvjI/iTHxbF30U7SwFug68B/+Gp"
    "QAUZaE6l9wzLlWl+0WjD6F130nvbnby47r5/yXo2Ts9wPHrjDvehH/WG49cMfB9srK6gQp"
    "7dOOBXmg5SEA8KRVBfUKkcuDvT+gBg74/vXg8l4WYi9Qa3g/EoBLTdSZtIg4oZBBOpO4yg"
    "TMyTrn21LVYM6D5BiSKajHVENAL33JF95R40Cvrp4Fq6nXavb0LTvt+dSrSnFdaE0/ri7G"
    "V41nsnEf4aTN8K9KvwYTxiSlvrJl4a7Ir+uOkHuviIwMK6jPRvMpgHMXGb3aaQnslyDHEp"
    "NYcluZbrrOWA+1FQy2HJLWi5bssXMVdgPkbaxpmBB6J252HJ1HrQAc3vGgalfu4g1v85rt"
    "JFDGBvEeSM4uAHxUqhX7vnay/wh+O7/PiH5fj0L4v/Ghgkpi8Mf0iMo18Wfc8Dn20KqyAu"
    "y/VQRA80RbP4nJgmcIxLQuCqG1Bdoj/hhulkQG4dICUpWHUSa5J/psPSw6M73dxW/xYN8M"
    "1LbEXsMAHAjjZoV6972+v2JTHu6mwB2K57nmbCGvTtfg6qbY23gGogD9xMXEPrVo7Zyry8"
    "LQB7Z8IDThn+fLoGveEQrBMSG00GvamYtu5VB+6BTtn4Oh8CmNyGMLobDm3OYQaUz9+AMZ"
    "dTVjYDrjUVmgmehiN49ecEaoD9ludjJRh0eksPQBYCM961aq2iLQCBJftJ9Nr0ShEXIIF2"
    "C3gH6bRbwBnZLu32UVwb+tIAK5Zj1qwlZbw+iqZuGfbTBr9jaCCg0Wn3KYukc87jTE8TAt"
    "OePshazci1tkjVEVOALYbP2pppqvmwZSownEWjv/sJ5+YkYC1JQKxiLcG37z0AI42TcgQa"
    "QQMSS/Vd1iBa4gfytX18nAGwywKSUZHsqEsQtuy+cFjLjEkBgN3xDcT3pJUHXzIqFV/WF8"
    "HXs7BhhFMNiC/QoBxB66Rz3rlon3U86+G1ZBmNeBbGWabyw+kLcDjjcAZvI4Zpeq1FRKw6"
    "WyCKu3U3Kyu4WEEM6KoXR/2P2/EoGfWgTJQ0VBUs/CcQL2tndIb428JCCsVVmFmqhlVkvq"
    "KX/X0PKqEYZaskiv5RmAikJ4iqxPdX42uhRMxILMINm23f263uaehPulfTgvjbQpcC+7hH"
    "N3evh4Pbt1L/UvAO7xFFc/CONrpHYqkFNdd6mrGcRlfTQCQR01M25x6W5JUVda6s8MPa3F"
    "6pJ1Hq6auZLsNPUSePV9pJd0o7MZ80mCwoAHJErHlI7yTA4mVC6eg3t0zIWs9Laj0sybVe"
    "F60nrFzO3Qfck1BytUCJRkiOlyhtqzggkDR/Im9145/pwBSRm24NzcFkvjUPbeVsPeK8VY"
    "S3ilVWPBGhhlVV7JTXc5/eBF4v8GCn83oBO1LddrqD4s8i58ZgaRY7H7HunJKry5J6xCm5"
    "Z0vJ7XeK756Q45THnigPhQCz1I2EKrL0qR2UaV6+6SLP9L5In90XscmtAbS0iA9UBOOgTP"
    "Mwbp/mMdCn6fb5NIox821i+HYNA2xSFkBHIAJu1WQdvd4+yDpqHT5+4mQbJ9s42bb3lGU8"
    "U63oX6Ehl9vWGpdtUJFNxfvLOE+UrpDDZAw4T/QctZ7GE8VoijzJdGdDwRNTxfl3NtZtDu"
    "wlW2xn1hNyxV7KPT1T7O2Z3GmemKdGa5ka/Ux+fNmQxpWtc5JUfDfoS+NLgX2QuOWuPyDf"
    "2Mc9Glx330iXAvu4R/1x7+5aGtHQxzmqR0yzUMnJwapQgiQoU2f1lMyQtE7zpEjIqFSYWV"
    "/Em9URprt3GVAFsI7KNRDv3WwzUf9NwDnL9LsSPGIrG7GZD6B1elaIqfEkdpRo3R9Xc9bJ"
    "ManPOqlzmnYdfIrw7mY47vYHozdF04Se4KXgHd6jm8m4J93esmb/+B5NpG7/70uBfdyjq+"
    "5gSJOH9mdNllmgapYBZSNl91s6zxaXbAInUTXXtjb0WcJ6kL63yBPgG4uylVFiYxHP7KXb"
    "ocPM8fDM3nPUep4KcPeJLfGSuJgo98zLeub8TZW1KsPn7+jbxjv6/LdHJRucLcDb7LdzxQ"
    "zsE17OxXc5VM/LsNmZQMu4szbj73BWpmy5ozgx8+yIGdOa/QOVBEc8I1XnizSurnonGf+5"
    "aq41sJGLsitRuSakeyJw59ok0MrYJNCKbxKAK6BqRXD2BJoHcDsXo9LOYFTacUbF0LWkuo"
    "uMOl9Pghf68uRXc9MgeZJfGjCxbEKISug9Kss1XxfNb7W0reoIqm5zYD+lbdZcxRLCxkZM"
    "qm/ze48yi9zoOBl6A6v7h1GEVbzxikOcr9vdusxfJ9zcOJBMUt2QS0SDMcHmOdE7CQqBkr"
    "zPNhPpyrfYVlckkydOOUsPU87iYWDYIuYOBsNiDYR6B2/N81abQhY8JMZf7VSa05vBhW4U"
    "qmnxJZ5U1FIzq1119QpY4KQXbqfD7glw1MujbkDys83kHZnpZj0s1TwfZftFpsXTEzwpUa"
    "+kRK4/7WXue+H/jQ1I8VqQLdWCMFDjeuClCuE/aQtMvcJVCjtNIEFDVR7EpOSR3XOUmTjy"
    "x9SGhX8uqZcn/mdIelLlKzTMgkF+QKSBoeduMinkoSqAsDO8geie5GLTTzLY9JOEl7Tb2w"
    "6LhDkBker3TBx4pFOAMNr+Yvb4P1W494E="
)
