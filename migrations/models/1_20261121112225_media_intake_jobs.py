from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "outbox_event" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(80) NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "relayed_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_outbox_even_relayed_676fe6" ON "outbox_event" ("relayed_at", "id");
        CREATE TABLE IF NOT EXISTS "job" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(80) NOT NULL,
    "payload" JSONB NOT NULL,
    "dedupe_key" VARCHAR(200) NOT NULL UNIQUE,
    "status" VARCHAR(12) NOT NULL,
    "attempts" INT NOT NULL,
    "max_attempts" INT NOT NULL,
    "run_after" TIMESTAMPTZ,
    "enqueued_at" TIMESTAMPTZ,
    "lease_expires_at" TIMESTAMPTZ,
    "last_error" TEXT,
    "asset_id" BIGINT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "finished_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_job_status_e98b55" ON "job" ("status", "run_after");
CREATE INDEX IF NOT EXISTS "idx_job_asset_i_233752" ON "job" ("asset_id");
COMMENT ON COLUMN "job"."status" IS 'QUEUED: QUEUED\nRUNNING: RUNNING\nSUCCEEDED: SUCCEEDED\nDEAD: DEAD';
        CREATE TABLE IF NOT EXISTS "upload" (
    "id" UUID NOT NULL PRIMARY KEY,
    "method" VARCHAR(16) NOT NULL,
    "status" VARCHAR(12) NOT NULL,
    "staging_key" VARCHAR(200) NOT NULL,
    "declared_size" BIGINT NOT NULL,
    "declared_sha256" VARCHAR(64),
    "received_sha256" VARCHAR(64),
    "multipart_upload_id" VARCHAR(1024),
    "cover_for_program_id" BIGINT,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "completed_at" TIMESTAMPTZ,
    "asset_id" BIGINT NOT NULL REFERENCES "asset" ("id") ON DELETE CASCADE,
    "created_by_id" BIGINT REFERENCES "cms_user" ("id") ON DELETE SET NULL
);
COMMENT ON COLUMN "upload"."method" IS 'DIRECT: DIRECT\nPRESIGNED_POST: PRESIGNED_POST\nMULTIPART: MULTIPART';
COMMENT ON COLUMN "upload"."status" IS 'PENDING: PENDING\nRECEIVED: RECEIVED\nCOMPLETED: COMPLETED\nEXPIRED: EXPIRED';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "upload";
        DROP TABLE IF EXISTS "outbox_event";
        DROP TABLE IF EXISTS "job";"""


MODELS_STATE = (
    "eJztXWtz4jgW/SuUP81UZbsSICSb2toqGpw0MwRYHr2903S5hFGIp43s8SMdtjf/fSX5/Y"
    "ztgDGOvoCRdG1zrizde4+u/JPbKmso6x96ynYLkcHdNH5yCGwhPghXnTU4oKpeBSkwwEqm"
    "bUVfo5VuaEAk53oAsg5x0RrqoiaphqQgXIpMWSaFiogbSmjjFZlI+suEgqFsoPEINVzx9R"
    "sultAaPkOd/PzJPUhQXtNjDqqSjm9FkNbkuqIGgQHXAjA4IgSfVQ3qOr6k7pzH/mP2xYyd"
    "Sm+do43xLdMfL2eNwDWArkNjv1cgDdXvAr1IAHDrKrRccGQ/SpsBMm5pWwLaShAV2dwir7"
    "26Mx4V5ApIlhY2EEGN3C0uMzSTaIHcla0vRzEW4F4TC2mfzBo+AFM2fFpbCV4ZJwij8VyY"
    "8XNB4HLoWcSQYTjwreoUgA25hb/9vdlsta6a563O9WX76ury+vwat6X3G626erFuxkPLOh"
    "XFbHA3GM3JDSm4I1odlBS8UBlgAMFTsIf+SlnvovjPseLi0Xfah/DHfyyMv4N2mgKcAk8D"
    "3sNTggpS0JzzXyiWW13/SyYFo8/dae9Td/rLfffLr7RmZ9cMx6M7p7kH/ag3HH+k4HtgG9"
    "IWivjZjQJ+KysgAXG/UAj1ByKVAXe7W58A7P3x4uOQb0ymfG8wG4xHAaCtSlKECySDQjDl"
    "u8MQynh4UuQna8SKAN3HKBFE47EOiYbgXtuyH5yDWkE/H9zzs3n3fhLo9v3unCc1zaAm7N"
    "JfOr8Ge717ksa/B/NPDfKz8cd4RJWmKrqx0egVvXbzP8jkwwHTUASk/BDA2o+JU+wUBfSM"
    "p2NoFFJzUJJpucpa9pkfObUclNyDlqs2feHhCqzHSN7ZPfBE1G4/LKla9xug2U1Dv9TrBm"
    "L1n+MyTUQf9iZGTssPvl+sEPqVe76OAn/Qv8uOf1COdf+i+KtAwz59bvgDYgz9oui7Fvhq"
    "l1sFUVmmhzx6ICGah++xYQJ7cIlxXBUNShv0O9xRnQzwrQMkxjmrdmCN9850Wnp4cbqbU+"
    "rdogZ+uIGt0DiMAbC8DVLV68563T7PRU2dPQDbdc5TT1j9tt3roFqj8R5Q9cWB64lrYN7K"
    "0FuplbcHYBc6POGQ4evd1W8NB2CdYt9oOujNuaR5rzxwT7TLRuf5AMD4NhqjxXBocQ4rIH"
    "7/AbS1kDCzaVCVJajHWBq24O3vUygD+l/ezyhBoVOaig+yAJjRqm1zGy4BCGzoXyLXJlcK"
    "mQAxtJvPOkim3XzGyH5pt6+cqikbDWxpjFk2N4Tx+srpiqlZTxt8NqCGgEy63bc0ks4+j9"
    "09dQh0q/sgc7vC19ojVYeHAsOk+KjmSpb0xz1TgcEoGvnfbzg3IwErSQIakiHH2Pa9R6Al"
    "cVK2QC1oQDxSPQsyRBvjEf9snZ+nAOywgLhVKDrqEIRNqy7o1tLBJAfATvsa4nvRzIIvbp"
    "WIL60L4euOsEGEEwcQT6BGMYLmRfuqfd3qtN3Rwy1JGzSiURh7msoOpyfA4IzC6b+NCKbJ"
    "ay1CYuWNBRx3WHOztAUXW2gAMutFUf9tNh7Fo+6XCZOGkmg0/tfAVtbB6AzuHw8mEgmujZ"
    "UpyYaE9A/ksv88gkoIRukqCaN/FiQCyQnCKvHs1ehcyONhJOLhBodtz9ot72noT7u385z4"
    "W0I3Dfq1RJPFx+Fg9onv3zTcwyUiaA4+k0LniCs0oWaaT1Om0/Bs6vMkInpK59yDkmxlRZ"
    "VXVnhubWar1JUo9PRVTJfBp6idxSptJxul7YhN6g8W5AA5JFY/pA/iYLFlQsno13eZkKmu"
    "C2o9KMm0XhWtx8xc9t37zJNAcDXHEo2AHFuitK/FAb6g+Rt5q4l3phNTRGa6NdAH4/nWLL"
    "SVnXrEeKsQbxVZWfFGhGq2quKgvJ7z9Mbwer4HO5nX840j5aXTnRR/Fjq3ATZ6vvPh0Z1R"
    "clWZUs8YJfduKbnjdvHDE3KM8jgS5SFiYDaKFrOKLLlr+2XqF2+6ztK9r5N793Wkc8sAbU"
    "xsA+XB2C9TP4xbl1kG6Mvk8fkyjDG1bSL4djUN7BImQFsgBG7ZZB253jHIOjI6fP3GyDZG"
    "tjGy7eghy2ikWlSeoCYUS2uNytZokU3J+WWMJ0pWyGkyBowneo9aT+KJIjRFlmC6nVDwxl"
    "Bx9szGqvWBo0SLrch6TKzYDbknR4rdnMmDxolZaLSSodHv+M8XdWkc2SoHSbnPgz4/vmnQ"
    "L+y3LPoD/It+LdHgvnvH3zTo1xL1x73FPT8iro99VA2f5kHCJwfbXAESv0yV1VMwQtK8zB"
    "Iiwa0SYaZ1IWtWQQbJ3qVA5cA6LFdDvA+TZiL9NwbntKHfkWAeW1GPTX8EzctOLqbGlThQ"
    "oPV4XE2nnaFTd9qJfZpUnXyIcDEZjrv9wegub5jQFbxpuIdLNJmOe/xsRou94yWa8t3+f2"
    "4a9GuJbruDIQkeWt8VmWaBJJsaFLSE7Ldkni0qWQdOomyuTdWUVcx8kJxb5AqwxKJ0ZRRI"
    "LGKRveRx6DRjPCyy9x61nmUFuPPEFtgkLiLKLPOiljnbqbJSy/DZHn372KPP2z0qfsDZA7"
    "z13p0rMsC+YXMuluXwepaDqcoKWL8RogU9yQkaOUehrmy0YrgrD8dk8sr02lSGvVosBv0c"
    "3JVpSusPRKZIj3mdwvL5qvRK5KN9DEfVWrZoGbp+E5b+9XSWaov1ohTmqTzpKofmuf5gyv"
    "cI+0S/SSiNnw3uRnxfmIxncxJO8/9eovvFcD6YdKe4yj0sFErrZAmlhR0UXyitU4Mw6IQf"
    "FQmC2mJYOdYBCXT2eGtlpHO0RL3x/WTIz0mhe7hE/JcJ1jQusw+qEQbF6G/w9YXvMNeq95"
    "BYlR+0opxjpryZZkreTDOaN7OGogw0bODlJ8MioiwHu7Dz7WGZmx+LEa1D9P/QTJkGRSg9"
    "FUI8RpQh/jriW3y3kgo0Q7Bs5pw76SSI1w/5i/NmFuxJs+RplVaGl5eQhecPiiYU3XIj6Q"
    "ws6Fc46PqsStgLKUB4BCVrSHicLsERky/C2Mya8VpZ2ExR2apFX2oZlmX5YFV+vo/0gsPK"
    "PctHTQJj9HGF6Muy34NVtUchK7+W70VYjLgskbg8KOekU5YnyjjZOknmm8StLphOq8owTi"
    "xfar+zWzITpZurP6EYM7SmhMY9kdptd3SQRJy1pKsy2Al5k57CcvWLTR2Eg4BbIMl5cHYF"
    "6gdwK1OiUysl0akVTXTSFDkuHTpl+x1Xgu2/w6I47zuKIwPdEHQIUQG9h2WZ5qui+aR16Y"
    "V2nCh7YWPV+sBxdpww15LBI0PbcXHbTni1Z6l7T5B2AnQblrZTMb6kZOzcnG375353FGZv"
    "+ayvH4g7qaIJBbzBiGD9jOiDOIVAjN/+NhXp0ne+LW99SBY/pZPspnSibmBwRMzsDAbFag"
    "j1AV5m5c42uUbwgBhjrAozViv4oGi5Us09iTflmlds1C47qRw8GHHvwU2G3RVgqBdHXYP4"
    "b+vx9HjaIku/VP1slP2vr8wfnmBBiWoFJbKEoyzzPfdSE58UW+OwrzUOBNSoHhgRH1zh4O"
    "t6leLgx6axUp75J4hiNy71V5+lhZAU2lCAbsvSYkgalMFuX2+jYnGeSsZ5kvdHjUf/FPZE"
    "LWgy7f/VLyrYOdnbWV0Cnwjb9mvvvgKjWJOfhfratMF5LI/Wg5JskXx12FRLyzno1EOaer"
    "8pqzgTjxSnmnZ/2g2O8P5SzUSCFX7aJyHorDZmhiIzFJmhyAzFkzUU13BtqjDvJiFBqfot"
    "hj7E6twT3EvnXwt+YW9nk2MrHUvqpmF9L9F0MRrRrXXsgyWaLXo9nu+TRu7hEvX5Li4gn1"
    "wBne1/Ax1gGHCrxq1GSw4P+0TK43XPDzsfNy/aV+3rVqftTsNuSdrsG6Vrib4KgBoWKw/Y"
    "yxMB1rNxI6i+4vb5BZnXVzWvL7jUBENqFnLuQ6JMz1XWswyBDoXi+5nEyTONV1rjJLkBal"
    "ocB5r8rpKgVB3WdbySRpTu+hR4T8mRNpuoGOrshcNVC8HUl59gryWpm9aT0r+Cr71Ekv5Y"
    "SO0hUWbHVEfNleKlulCTxEcuLn/NqjlLzV3z2lRmI5D3Qva8MQaSTOM8QU3PmWfkE6khmX"
    "OYZC78UOVA2G5eQ3QvMlEGFymUwUWUMrBfSJyHLfOJlM+WnXiyxVEns5f/AwU/UQs="
)
