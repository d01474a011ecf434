from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "ingest_source" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(40) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "config" JSONB NOT NULL,
    "secrets" JSONB NOT NULL,
    "state" JSONB NOT NULL,
    "schedule_minutes" INT,
    "enabled" BOOL NOT NULL,
    "auto_publish" BOOL NOT NULL,
    "next_run_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "program_id" BIGINT NOT NULL REFERENCES "program" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_ingest_sour_enabled_56ed18" ON "ingest_source" ("enabled", "next_run_at");
        CREATE TABLE IF NOT EXISTS "ingest_source_run" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "status" VARCHAR(12) NOT NULL,
    "trigger" VARCHAR(20) NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL,
    "heartbeat_at" TIMESTAMPTZ NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "found" INT NOT NULL,
    "created" INT NOT NULL,
    "updated" INT NOT NULL,
    "skipped" INT NOT NULL,
    "failed" INT NOT NULL,
    "gone" INT NOT NULL,
    "problems" JSONB NOT NULL,
    "error" TEXT,
    "source_id" BIGINT NOT NULL REFERENCES "ingest_source" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_ingest_sour_source__0184b5" ON "ingest_source_run" ("source_id", "started_at");
COMMENT ON COLUMN "ingest_source_run"."status" IS 'RUNNING: RUNNING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "ingest_source_run";
        DROP TABLE IF EXISTS "ingest_source";"""


MODELS_STATE = (
    "eJztXWtzozgW/SsUn2aqsl0d59HZ7NZWOTbd7RnHzvrROzPtKQrbss00FoyAdGdn+7+vxP"
    "slAgQwEH2xsdAFfK6Qru65V/qLP6pboOhvBurxCKDB33J/8VA6AnwQPXXG8ZKm+SdIgSGt"
    "FavuJlBprRtI2pBr7SRFB7hoC/QNkjVDViEuhaaikEJ1gyvKcO8XmVD+0wSioe6BcQAIn/"
    "j8Oy6W4RZ8Azr5+Re/k4GytY55oMk6fhRR3pL7bhCQDLAVJYMnQuCbhoCu41vq7nWcP+bc"
    "zHjSrEfnrcr4ka0f38+40D0kXQdGuXcgFbUvonWTEOD2Xaxy0ZW9k/cjaLy36hLQ1uJGVc"
    "wj9OtrT8ZBhZ6AbGthDyBA5GlxmYFMogXyVI6+XMXYgPtVbKQDMluwk0zFCGhtLfplvChO"
    "pgtxLixEkc+h5w2GDMOBH1W3ANiTR/jb33u9i4t3vbcX1zdXl+/eXd28vcF1reeNn3r33X"
    "4YHy37UhZmow+jyYI8kIobot1AScF3S0YyJNFXsI/+Wt0+xfFfYMUlo+/Wj+CP/1gUfxft"
    "NAW4Bb4G/JenBhWkoLkQfrGwPOr6nwopmHzqzwYf+7Mf7vu//GideXLOjKeTD251H/rJYD"
    "y9s8D3wTbkI9jgdzcO+HtFlSiIB4UiqO+IVAbcnWbdAtiH0+XdWOAeZsJgNB9NJyGg7ZOk"
    "CBfIhgXBTOiPIyjj7klVHu0eKwb0EKNEEE3GOiIagXvryL5xDzoF/WJ0L8wX/fuHULMf9h"
    "cCOdMLa8Ip/eH6x3Cr9y7C/We0+MiRn9xv04mlNE3VjT2y7ujXW/xGBh9eMg1VhOpXUdoG"
    "MXGL3aKQnvFwDIxCag5LMi03WcsB8yOnlsOSJWi5acMX7q6k7RQqT04LbInanZclVetBAz"
    "S7aRiUet5AbP57XKeJGMDexMih/OAHxQqh37j36yTwh+d32fEPy7HmXxR/TUJ4Tp8b/pAY"
    "Q78o+p4Fvn7KrYK4LNNDHj0QF83uS6KbwOlcEiauKgLyHv4MniydjPCjS3CTNFl1HGuCf6"
    "V26eG729zcUv8RkfTVc2xF+mEMgD3bIKcG/fmgPxT4uKlTArB99zrdhDVo2z0Pqt0bl4Bq"
    "wA/cTVxD41aG1mpZeSUAu9RBi12GzzfXoDUcgnWG50az0WDB08a9+sBtaZONj/MhgPFjcJ"
    "PleGxzDmtp8+WrhLYiZWRDQFNkoCdYGo7g+59nQJGs//J6egkLOrWnBiALgRk/dewdoyUS"
    "lPbWXyL3JneKmAAJtFvAOqDTbgFjpFza7TOvIXWPpKPlY1bMPWG8PvO6aiL7bQPfDICgpJ"
    "Bm93saSedcx2meOpB0u/lA87jG9yqRqsNdgWFa+GjmWpH1Q8lUYNiLRv73C67NSMBGkoCG"
    "bCgJtv3gICEaJ+UIdIIGxD3VN1EBcG8c8M+Lt29TAHZZQFwr4h11CcKefS48rbU6kxwAu/"
    "U7iO95Lwu+uBYVX+tcBF+vhw0jTO1AfIEO+Qh655fvLm8uri+93sMrSes04l4YZ5jKDqcv"
    "wOCMwxl8jBim9FiLiFh9fQHPV2tu1hZwcQSGREa9OOo/zaeTZNSDMlHSUN4Y3P84bGVVRm"
    "fw/9yZcENw5damrBgy1N+Q2/7rBCohGKWrJIr+WZgIJBeIqsS3V+NjoYC7kdgMN9xt+9Zu"
    "fW/DcNZ/v8iJvy10y1lfK/iwvBuP5h+F4S3nHa4gQXP0iRS6R3yhATXTeJoynEZH08BMIq"
    "andM49LMkiK5ocWeFPazNbpZ5EobevYboMv0WXWazSS7pRehmzSYPOghwgR8S6h3QlEywW"
    "JkRHv7thQqa2Laj1sCTTelO0njByOU8fME9CztUcIRohORaiVFZwQMBp/kLe6sG/UssUkZ"
    "luDbXBZL41C23lpB4x3irCW8UiK16IUMeiKirl9dy3N4HXC7zYdF4v0I/Ul07XKv4scm1D"
    "2uv5rod7d0bJNWVIPWOU3Kul5E7bxKsn5BjlcSLKY4OB2asoIYqM3rSDMt3zN91kad439N"
    "Z9E2vcigT3JraB8mAclOkexhdXWTroK3r/fBXF2LJtYvj2EZKeKAOgIxABt26yjtzvFGQd"
    "6R0+/87INka2MbLt5C7LuKd6oz4CJBZLa43LdijIpub8MsYT0RXSTsaA8USvUes0nihGU2"
    "RxpjsJBS90FWfPbGxaG8jkTbeDP16I0dyLIOkKRFU61G3yIcGd7rESdGe6l1ba8pXpmH+6"
    "kf7pL/jPF51XurJN9lTzn0ZDYXrLWV948rgcjvAv62sFR/f9D8ItZ32t4HA6WN4LEzL/dI"
    "6aMbHcyfji0jGXlyoo02T1FHRT9a6y+KlwLSrM1rnIlEKFBkmhtoDKgXVUroN4V5PrI/83"
    "Aee0rt+VYNPmotNm/SD1rq5z0WWeREXe7tMRZteXGRr19SW1TZNTrffTLh/G0/5wNPmQ11"
    "frCd5y3uEKPsymA2E+t4r94xWcCf3hr7ec9bWC7/ujMfHg2t8NGWYlWTEREBElBZFOdsYl"
    "u0AM1U14akhdJ4wH9AQvT4Bld6Uro0B2lxXChad5cX2krHAcFCq4wnEhbbytH/Qy1jfG3X"
    "0+6tkT6EL3UnXWDiMI6NC301XMCILXqPUsiSTuG1tgrcmYKJtbFp1bsgVvG5XNw5b6LGOp"
    "T38RuuQOpwR4u73IX6yDfcEafyxZ6nl6FwG4lQ2LnnsRSjP3Oi00dTIBZWp4Trp9IUpL6y"
    "JdgqhKHtxvUwlceKjB0flwFKr2HCfOTyHgtgDJj2DLqaahmQYnQ05D4FEGX3VON/CIugf/"
    "4BCwHDncDqlHzjgA7ijpBkDc1wPW6yM+IGUKNknx4eYgwT3Q30T9lpXfLHGpSy9AwKVjLV"
    "yjq1oy+p3R76eg3z+O5+J9f74QZrecf7yC5PhTfzbqE7498GMFH6Z2bft7BRcfl/d3k/5o"
    "PL/l/OMVnC+ms1/vpv3Z8Jbzj8OkfiFm4ToLsxCd7QaYheuoKyoved9h4r58P1/7KLcCb1"
    "HZ7NlNlkwqeiJVVAdfQK40Nad697zYleS3fpW3+OIxeKkDtFe/Q56U0lbwPOCp+SHBN0xF"
    "0xdgcMbhXMsG+fP5LMiAUIcwrXt3KyB9EQvBH5VkOiicg4RnpxuK6UELFXQlujf4lZ+evU"
    "P4QExu4SlhCGExttVyllAEFopZP12GUNIGTPQwM0+gC31H7ctpsHCQjgUGsHCQ16j1LOEg"
    "J9p0unEabkIUQt27YjZNCVlp8ue3xaQT5FVSdg7BmcDX+dQnnawz/TpVZq/mIreWy9EwB7"
    "VlmvL2DZEp0vieZ7gCkeTWncjH5SnCyG3XpN1rB/tj66+nk1hHrBe1MI3lSzfaBT8c4QkW"
    "yQ21vkmiizAffZgIQ5EQVSTZJfh7Be+X48XooT/Dp7zDZtBR7WNM+AdhUiRFyRHDyrEPSB"
    "rSQLAXj3KPVnAwvX8YCwtS6B2uoPDLA9Y0LnMOCumu9CQlkgKA7y/mZFwiYk1+0Qp6n3qZ"
    "qJdeCvXSi1MvW7BRJIRnAfn9IzFRZlIW9pT4WObOXk0Q7YL3pOo8VgQ2gEQxFUA8QZQh/j"
    "ziR/y0siYhQ7Rt5pybDVHEu4f8+dteFuxJNfqwap2Mcjlkbb6disSiu5LQrsA85IU95N80"
    "Gc9CCnjvwpId9N6111sXd9Iy1zz9vWunkzaLa36jHjXi4yqk94gsWzK3ye83c8efMkaFpc"
    "YyUqRpr0J5pAhLyjxRUmalnJNusTxxxsnRCZ1v2hx10XRrNYZxYulU5Y5udCZKN9d/gE1C"
    "15riGvdFOrcjVCXLZG5lXVOkJzFvVlNUrnu+qUo4CHCUZCUPzp5A9wC+yLQM6UXKMqQX8W"
    "VIkaokrYaeskORJ8G2KGJenNftxVEk3RB1AGABvUdlmeabonlakGVsStvERVua1gZOstJG"
    "39zKhgAN9MQnbTvhnz1L3XuC1BOBV7G+HSigIRtPdhvA1Zyf5W66XMpGzmwe2Mh5IG6kKh"
    "ILzAZjgt0zoiuZFEqb5B2CU5GufXPg+uJDssxTrunTlOv4NDDcI2aeDIbFOgh1+SuK+KNN"
    "rh48JMYYq8KM1RrsVJRrIXhf4kUrwTes104BspIl36WdARLyUemwewIM9eKoI4D/tp5Mj6"
    "cFWQalumejlB9fmd89wZwSzXJKZHFH2eZ77lCTgBSLcSgrxoGAGtcDI+LDEQ6BptcoDn5q"
    "Gmv1m/AIrEePeZCCp8/SXEiqVVEEXs3afEgIKNKTRyswP09b+5izFD8PffnUZPTbsGRqQZ"
    "Op/OWXNOnJzd7OOiUIiLBNuUqfKzCKlf4udNemDY9jebQelmRB8s1hU20t56BTqzT1flLX"
    "SSYeKU417f5wKtRm0flLDyATirb7qUxC0I02ZoYiMxSZocgMxdYailuwNTWQd5GQsFT3gq"
    "GriM5t4Vo6/14KS2c5mxxL6dhSt5z9vYKz5WRiLa3jHKzgfDkYCMKQVPIOV3Ao9HEB+eQL"
    "6Kz8BXQkwwBHLSkaje4eDojUx+tWtalx2UvAE30VADUqVh+wVy0B1rdxY6g+M+0LCrJZX9"
    "NmfeFQEwypWWhyHxFlem6ynhUg6UAsvp5JkjzTeKM1TpIbci/xHpbqQlzHM2lE6VOfAuu8"
    "n2ixiYahftq1Jhg/8Zr4CbbGfte0Tkv/Cu3NI0NZPxRSe0SU2THNUXOjeKm5aqIN4BOoKe"
    "fMWRo7JZNdkw1R96vWmL1GHsLeixmbeqI1ITcYrdRWC4fRSifJw2HbJlfLXeA77uR9HtbO"
    "l2CkXemknQ7wLCjJh07XR0CEKaR8hRhS0s6TKepwBZgyylfGBs8YTAWIRxmaRtKCPfStKh"
    "NEO+TkKY1wCpitEXtSVRUgQRoP4UlFQF1jsarau2tq1tuy76bTcahl342iLsnl/Z0w++Hc"
    "aub+lqtxsK1Jl2aucaeQsLl7KuJR0Rph90pai3twQhaDPd1vERFlfoum+S2YLzrbuNFOry"
    "TzRb9GrWfxRRfdsaWEfVoap+UmpP46uMaVkTv598G/UssUkTUBONwG8+78GooWe+EKe7ZT"
    "fWbCDqFd6Rp7PmBUisJBMyNLQYzLepkK575248MvI3KGQEZVtLJPPkuhKloYqe6Elud0Yf"
    "FZQ9Pf90djUmR/89l0WXF4Or77fp8U8kunPQIinWQ+MhEfKbxHQsoGKjZHCEuyOUJT5ghZ"
    "ZoYHgHW3xjP7AnqPyjLNt0nzLFLpdXj8dqqZFIxBNS+9+iynixLImwPMgASDMwqn41vMAW"
    "dAgsEZhVP/ImtaLjgDEgzOKJw7SU5kfekdpyfAwIyCuVdhQsgIFUq3OgMyCqSGVPwvj7nC"
    "oYIyzQjBOdUOTZWE4OTOZmOJbC9IZAu5ZrM7TUNijNIqi9Ly0wheyGj5qQstU0NWQivUAP"
    "PyWVXSNX2A5M2BT+BqnDNnqVsh+XUas6/sa2FOXmhU0DmRR4D0nNvWBES66G2vZG8g/FLl"
    "QNip3kF0zzNlcZynZHGcJ2ZxGM7a2jnSOFyR+s3k05hopRnEJ82N/P5/pczN5A=="
)
