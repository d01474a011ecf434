from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

# The PostgreSQL search backend's tables (search/postgres/backend.py). They have no Tortoise models: the backend writes
# them with its own SQL, so MODELS_STATE below is the previous migration's, unchanged.


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "search_document" (
    "kind" VARCHAR(16) NOT NULL,
    "id" BIGINT NOT NULL,
    "program_id" BIGINT NOT NULL,
    "category" TEXT,
    "lang" TEXT,
    "tags" TEXT[] NOT NULL,
    "public_from" TIMESTAMPTZ,
    "date" TIMESTAMPTZ NOT NULL,
    "config" TEXT NOT NULL,
    "vector" TSVECTOR NOT NULL,
    CONSTRAINT "pk_search_document" PRIMARY KEY ("kind", "id")
);
CREATE INDEX IF NOT EXISTS "idx_search_document_vector" ON "search_document" USING GIN ("vector")
    WITH (gin_pending_list_limit = 512);
CREATE INDEX IF NOT EXISTS "idx_search_document_date" ON "search_document" ("date" DESC, "id" DESC, "kind" DESC)
    INCLUDE ("public_from", "category", "lang", "program_id");
CREATE INDEX IF NOT EXISTS "idx_search_document_program" ON "search_document" ("program_id", "date" DESC);
CREATE INDEX IF NOT EXISTS "idx_search_document_tags" ON "search_document" USING GIN ("tags");
CREATE INDEX IF NOT EXISTS "idx_search_document_visible" ON "search_document" ("public_from")
    INCLUDE ("kind", "category", "lang", "program_id", "date");
COMMENT ON COLUMN "search_document"."lang" IS 'Primary subtag of the language, lower case: what filters and facets use';
COMMENT ON COLUMN "search_document"."config" IS 'Text search configuration of the language (simple when it has none)';
COMMENT ON COLUMN "search_document"."vector" IS 'Weighted lexemes: title A, tags B, description C, program title D; filter lexemes';
COMMENT ON TABLE "search_document" IS 'PostgreSQL search index: what queries read for every match, kept narrow.';
        CREATE TABLE IF NOT EXISTS "search_document_text" (
    "kind" VARCHAR(16) NOT NULL,
    "id" BIGINT NOT NULL,
    "title" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    CONSTRAINT "pk_search_document_text" PRIMARY KEY ("kind", "id")
);
COMMENT ON TABLE "search_document_text" IS 'Texts of indexed items, read only for the highlights of a page of hits.';
        CREATE TABLE IF NOT EXISTS "search_term" (
    "term" TEXT COLLATE "C" NOT NULL PRIMARY KEY
);
COMMENT ON TABLE "search_term" IS 'Indexed lexemes and surface words: exact and prefix checks for query words.';
        CREATE TABLE IF NOT EXISTS "search_term_trigram" (
    "trigram" TEXT NOT NULL,
    "trigram_count" SMALLINT NOT NULL,
    "term" TEXT NOT NULL,
    CONSTRAINT "pk_search_term_trigram" PRIMARY KEY ("trigram", "trigram_count", "term")
);
COMMENT ON TABLE "search_term_trigram" IS 'Trigrams of search_term (as pg_trgm makes them): typo candidates.';
        CREATE TABLE IF NOT EXISTS "search_config" (
    "config" TEXT NOT NULL PRIMARY KEY
);
COMMENT ON TABLE "search_config" IS 'Text search configurations in use: the query side stems with each.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "search_config";
        DROP TABLE IF EXISTS "search_term_trigram";
        DROP TABLE IF EXISTS "search_term";
        DROP TABLE IF EXISTS "search_document_text";
        DROP TABLE IF EXISTS "search_document";"""


MODELS_STATE = (
    "eJztXWtzozgW/SsUn2aqsl2J8+hsdmuriE13e8axs3709kx7isJGsZnGghGQxNvb/30l8X"
    "4GCLYx0RdbFrqAzxXS1T26l+/8RleAZr7r6psNgBZ/w33nobwBuBA/dMLxsmEEB0iFJS80"
    "2nYZarQwLSQvybkeZM0EuEoB5hKphqXqENdCW9NIpb7EDVW4CqpsqP5lA8nSV8BaA4QPfP"
    "0DV6tQAc/AJD+/8w8q0BRa5oGhmvhWJFUh110iIFtAkWSLJ0Lg2UDANPElTe887h9zL2Zt"
    "DXrrPG2Mb5n++HHCRa4hmyaw6r0CaWh8k+hFIoA7V6H1kid7q6760PpA2xLQFtJS1+wNDN"
    "obW2utQ19AdbSwAhAgcre4zkI20QK5K1dfnmIcwIMmDtIhGQU8yLZmhbS2kII6XpKGo6k0"
    "EaeSxJfQ8xJDhuHAt2pSAFbkFv72907n/Px95/T86vry4v37y+vTa9yW3m/y0Psfzs0EaD"
    "mnopj1P/aHU3JDOu6ITgclFT+ojGzJUqDgAP2FrmyT+E+x4tLR99rH8Md/LI6/h3aeAryK"
    "QAPBw7MHFeSgORW/UCw3pvmXRiqGn4Vx95Mw/ulO+PIzPbJ1jwxGw49e8wD6YXcwuqXgB2"
    "Bb6gYs8bObBPyDpssZiIeFYqg/EKkCuLvd+ghg741mtwORux+L3f6kPxpGgHYOkipcoVoU"
    "grEoDGIo4+FJ1x6dESsBdA+jRBBNxzomGoNbcWXfeYVWQT/t34mTqXB3H+n2PWEqkiOdqC"
    "bc2p+ufo72ev8k3H/6008c+cn9PhpSpRm6aa0QvWLQbvo7mXx42bZ0CepPkqyEMfGqvaqI"
    "nvF0DKxKao5KMi03Wcsh86OklqOSNWi5adMXHq5kZQS1rdsDj0Tt7sOSq/WwAVrcNAxLvW"
    "wgNv853qeJGMLexsih8uCHxSqh37jn6yDwR9d3xfGPyrHuXxV/Q0Z4TV8a/ogYQ78q+r4F"
    "vtiWVkFSlumhjB6Ii+bhW6qbwB1cUhauOgLqCv4KtlQnfXzrMlymLVZdx5oYnOm49PDD62"
    "5ebXCLSH7yHVuxcRgD4Kw2yKGuMOkKPZFPmjo1ACt452knrGHb7mVQndG4BlRDfuB24hqZ"
    "twr0Vmrl1QDszARH7DJ8ubuGreEIrGO8Nhr3u1M+a97bH7hH2mWT83wEYHwb3HA2GDicw0"
    "JefnuSkSJlzGwIGJoKzBRLwxX88OsYaDL9L29nlKDQ6R09BFkEzOShTWcTr5GhvKJ/iVyb"
    "XClmAqTQbiHrIJt2Cxkj9dJuX3kD6Sskb6iPWbNXhPH6ypu6jZynDTxbAEFZI93ujzySzj"
    "2P2z1NIJtO94H2ZoGvVSNVh4cCy6b4GPZCU811zVRg1ItG/vcrzs1IwEaSgJZqaSm2fXct"
    "oyxOyhVoBQ2IR6pnSQNwZa3xz/PT0xyAPRYQt4p5Rz2CsOMciy5r6WBSAmCvfQvxPesUwR"
    "e3ysSXHovh64+wUYQzB5BAoEU+gs7ZxfuL6/OrC3/08GvyBo2kF8adporDGQgwOJNwhm8j"
    "gWn2XouY2P7GAp7frbm5tw0XG2DJZNZLov7LZDRMRz0sEycN1aXF/Y/DVtbO6Az+nw82XB"
    "JcuYWtapYKzXfksv86gEoIRvkqiaN/EiUCyQniKgns1eRcKOJhJLHCjQ7bgbW7v6ehNxY+"
    "TEvi7wjdcPRrDu9nt4P+5JPYu+H84hwSNPufSaVX4itNqIXm05zpND6bhlYSCT3lc+5RSb"
    "azosk7K4JlbWGr1Jeo9PQ1TJfRp+iiiFV6kW2UXiRs0rCzoATIMbH2Ib2TBRbbJpSNfnu3"
    "CdmGUlHrUUmm9aZoPWXmcu8+ZJ5EnKsltmhE5NgWpbo2B4Sc5q/kre6DMx2ZIgrTrZE+mM"
    "63FqGt3NAjxlvFeKvEzopXItSyXRU75fW8pzeF1ws92Nm8Xmgc2V843VHxZ7FzW/LKLHc+"
    "PLozSq4pU+oJo+TeLCV32C6+e0KOUR4HojyWGJiVjlJ2kWV37bBM+/xN10W693V2775OdG"
    "5Nhisb20BlMA7LtA/j88siA/Rl9vh8GceY2jYJfAWE5G3GBOgKxMDdN1lHrncIso6MDl//"
    "YGQbI9sY2XZwl2XSU73UHwGSqoW1JmVbtMlmz/FljCfKVshxMgaMJ3qLWs/iiRI0RRFnuh"
    "tQ8EpXcfHIxqb1gYN4ix3Peoqv2He5Z3uK/ZjJI0+7xpyvjXS+fsN/vuqiyZNtshuW/9zv"
    "iaMbjn7hldGs18e/6Ncc9u+Ej+INR7/msDfqzu7EIVlcuaVmrJoeVHxyeVPKBROWabJ6Kv"
    "pgOpdFnDC4VSbM9FjMXtahReKDKVAlsI7LtRDv3QSyqP9NwTlv6Pck2Jqw6prQXMudy6tS"
    "XJAvsSNX7uHYoKuLAp366iKzT5NDR++EnN0PRkKvP/xY1hHpC95wfnEO78ejrjiZ0OqgPI"
    "djUej9dsPRrzn8IPQHxD3pfDdkmpVVzUZAQhnxddlMXlKyDazHvtk8A+mLlPkgO3rJF2Ch"
    "S/nKqBC6RPcn4WVeUh856XvDQhXT91bSxun+Qa8jeS8e7svxqr5AG4aXXYekMO93NvTH6Q"
    "dl3u+3qPUiURLeE1shkWJClK0tq64tWTbXRoWqsDyWdeSxDDKspQ84NcDb7gx2iQH2FQns"
    "WCTQy5FACEBFtSg99yqUxt55jtDUKQSUbeA1qfJKlGb0JG2CaJc8eNCnUrjwSIfL5sNRpN"
    "lLnDg/goBTAFIfgcLptmXYFqdCzkDgUQVPJmdaeEZdgX9wCFBHDveA9A1nrQG3kU0LIO5p"
    "jfX6iAukTsMmKS4u1zJcAfNd3G+584ul5nH0Nwh4dCzFNZ6ykdHvjH4/BP3+aTCR7oTJVB"
    "zfcEF5Dkn5szDuC4RvD/2Yw/uR09r5nsPpp9nd7VDoDyY3XFCew8l0NP7tdiSMezdcUI6S"
    "+pWYhasizEJ8tRtiFq7irqiy5H2Lifv6/XzHR7lVeIrqZs+ui4QJZUcJxXXwDZSKwXKbt8"
    "+LvZPgzSdVwSdPwJs5QfvtW+RJqS095RovzdcpvuFMNAMBBmcSzoVqkT9fzoIMCbUI032/"
    "ugnI36RK8MclmQ4qB9jg1ekyw/TI2iroSbRv8qs/9vgB4YKU3sNztiFExdh7hItsRWBbMf"
    "dPlyGU9nah7G1mvkAbxo6954pg20FatjGAbQd5i1ovsh3kQG9UbpyGm7ALYd+vfGyaEorS"
    "5C+/8zGbIN8lZecSnCl8XUB9ZpN1dtBml9Grpcit2azfK0Ft2baqvCMyVTrfywxXaCc5vR"
    "L5uDjENnLHNemM2uHxmP71fBJrg/WiV6axAulGu+B7fbzAIrGh9JsEuoiT/seh2JMIUUWC"
    "XcK/5/BuNpj274UxPuQXm0FHHR9jwt+LwyohSq4YVo5TIGFIXdHJjOSV5rA7ursfiFNS6R"
    "fnUPxyjzWN69xCJd3VHqREQgDw9aWSjEtMrMkPWkXvU6cQ9dLJoV46SepFAUtNRngVUN4/"
    "khBlJmVlT0mAZeno1RTRNnhPdh3HisASkF1MFRBPEWWIv4z4Bt+tasjIkhybueSbdDLE24"
    "f82WmnCPakWfa0Sg/GuRySeO5BR1LVV25knYF5yCt7yJ8NFa9CKnjvopIt9N4dr7cu6aRl"
    "rvns5+44nbRFXPNLfWMQH1clvcdkWT7YJj/fzB1/yD0qLDSWkSJNexTqI0VYUOaBgjJ3yj"
    "mZlOVJMk6uTrL5puXGlGyvVWMYJxZOVe/sls1EmfbiT7BMGVpzXOOBSOted7STNJmKahqa"
    "vJXKRjXF5drnm9oJBwE2sqqVwdkXaB/A54XSkJ7npCE9T6YhRbqWlg495/U7vgR7/w7z4r"
    "xtL44mm5ZkAgAr6D0uyzTfFM1nbbJMLGmbmLSlaX3gIJk2BFtRLRFaaMunvXYiOHqS++4J"
    "0k4CfsP9vYECWqq1dfoAbub+rPeNwrW8pZitAxu5DsSdVEdShdVgQrB9RvROFoXyMv31t7"
    "lI7/3Nt/vbH1JknXKVvUy5Si4DoyNi4cVgVKyFUNefUSSYbUqN4BExxlhVZqwW4EFHpRLB"
    "BxKvygTfsFE7B8idpHyXHyyQEo+aDbsvwFCvjjoC+G+b6fR43ibLsFT7bJT691eWd08wp0"
    "SznBJF3FGO+V56q0lIiu1xqGuPAwE1qQdGxEd3OIS6XqM4+JFtLfRn8RHQW094kMKHT/Jc"
    "SDptKAG/5d58SAho8tanFZif51jHmJMcP092+tR09I8hZWpFk6n+9EuGvPWit4suCUIi7K"
    "Vcta8VGMWa/Sy016aNzmNltB6VZJvkm8OmOlouQafu0tT7RV+kmXikOte0+9NtsDeLLkg9"
    "gGwoOe6nOglBb7cxMxSZocgMRWYoHq2hqADFNkDZJCFRqfZtht7F7twjzKXz75k4c9PZlE"
    "il40jdcM73HI5nwyFNreMW5nAy63ZFsUca+cU57IkCriCffAWd1Z9AR7YssDHSdqNlu4dD"
    "IvvjdXf1UuO6U8ATfVUANS62P2AvjwTYwMZNoPrCsi8syFZ9TVv1RbeaYEjtSov7mCjTc5"
    "P1rAHZBFL1fCZp8kzjjdY4CW4oneI9KtWGfR0vhBHlL30q5Hk/ULKJhqF+2FwTjJ94S/wE"
    "y7HfNq1nhX9F3s2jQtVcV1J7TJTZMc1Rc6N4KQEgdbnm0+LXnCMnubFrQZvGJAJ5K2TPK3"
    "0g2TTOI0BmyTijkEgLyZzdBHPhh6oEwm7zFqJ7VogyOMuhDM6SlAG+ouVuhizKloVE9s+W"
    "HXmwxUEnsx//B1O9dbc="
)
