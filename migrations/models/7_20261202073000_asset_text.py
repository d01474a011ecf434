from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

# PDFs as first-class media: the text extracted from a document asset, which the search indexer reads as its
# episode's attachments (search/documents.py). MODELS_STATE is the models' (cms.media.models.AssetText added).
# Documents uploaded before this migration were marked ready without processing: they have no preview and no text
# until they are processed again.


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "asset_text" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "text" TEXT NOT NULL,
    "pages" INT NOT NULL,
    "truncated" BOOL NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "asset_id" BIGINT NOT NULL UNIQUE REFERENCES "asset" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "asset_text" IS 'Text extracted from a document asset (a PDF''s pages), which the search indexer reads.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "asset_text";"""


MODELS_STATE = (
    "eJztXWuT2jgW/SsuvmxS1ZtK04/09mxtFQ1OwgwNvTxmMxOmXAIEeGJkxo902Gz++0ry+y"
    "G37bbBdusLGFnXNufK0r33XEnfWzt1BRX9TVfd7SAyWrfC9xYCO4gPwqfOhBbY770TpMAA"
    "C4XWXfoqLXRDA0tyrTVQdIiLVlBfavLekFWES5GpKKRQXeKKMtp4RSaS/zKhZKgbaGyhhk"
    "98/gMXy2gFv0Gd/PzeWstQWdHjFtzLOn4USV6R+y41CAy4koDRIkLw216Duo5vqTvXsf+Y"
    "fTPjsKeP3qKV8SPTHz/OhMA9gK5Do9g7kIr7LxK9SQBw6y60XHJk7+RNHxnvaV0C2kJaqo"
    "q5Q179/cHYqsgVkC0tbCCCGnlaXGZoJtECeSpbX45iLMC9KhbSPpkVXANTMXxaW0heWUuS"
    "hqOpNBGnktTKoOclhgzDgR9VpwBsyCP8/R/t9sXFu/bbi+ubq8t3765u3t7guvR5o6fe/b"
    "AexkPLuhTFrP+hP5ySB1JxQ7QaKCn4QWWAASRPwR76C3V1iOI/xYqLR9+pH8If/7Ew/g7a"
    "SQpwCjwNeC/PEVSQgOZU/ESx3On6XwopGP7aGXc/dsav7jufXtMzB/vMYDT84FT3oB92B6"
    "M7Cr4HtiHv4BK/u1HA3ysqYCDuFwqhviZSKXC3m3UNYO+NZncDUXgYi93+pD8aBoC2TpIi"
    "XCAbFIKx2BmEUMbdk6p8tXqsCNA9jBJBNB7rkGgI7pUt+8Y5aBT00/69OJl27h8Czb7XmY"
    "rkTDuoCbv01fXrYKt3LyL8pz/9KJCfwu+jIVXaXtWNjUbv6NWb/k4GnxYwDVVC6qMEVn5M"
    "nGKnKKBnPBxDI5eag5Jcy1XWss/8yKjloGQBWq7a8IW7K7AaIeVgt8CaqN1+WRK17jdA05"
    "uGfqmnDcTqv8fHNBF92JsYOS07+H6xXOhX7v06CfxB/y49/kE53vzz4r8HGvbpM8MfEOPo"
    "50XftcAXh8wqiMpyPWTRAwnRrL/EhgnsziXGcVU1KG/QL/BAddLHjw7QMs5ZtQNroneleu"
    "nhh9PcnFLvETXw6Aa2Qv0wBsDyNsipbmfS7fTEVtTUKQDYjnOdZsLqt+2eBtXqjQtA1RcH"
    "biaugXErRWulVl4BwM50WOOQ4dPN1W8NB2AdY99o3O9OW6xx73jg1rTJRsf5AMD4MYThbD"
    "CwOIcFWH55BNpKYoxsGtwrMtRjLA1b8P0vY6gA+l9eTi9BoVPbqg+yAJjRU7v2LlwCENjQ"
    "v0TuTe4UMgFiaDefdcCm3XzGSLG02+fWXlM3GtjRGLNibgjj9bmlq6ZmvW3wmwE1BBTS7P"
    "5IIuns69jNU4dAt5oPMncLfK8CqTrcFRgmxWdvLhRZ3xZMBQajaOR/P+PanASsJAloyIYS"
    "Y9t3t0BjcVK2QCNoQNxTfZMUiDbGFv+8ePs2AWCHBcS1QtFRhyBsW+eCbi3tTDIA7NRvIL"
    "7n7TT44lpMfOm5EL5uDxtEmNmBeAINihG0zy/fXd5cXF+6vYdbktRpRKMw9jCVHk5PgMMZ"
    "hdP/GBFM2bkWIbHj9QWtVrnm5tESLnbQAGTUi6L+82Q0jEfdLxMmDeWlIfxPwFZWaXRG65"
    "9rEy0JrsLClBVDRvobctt/nUAlBKNklYTRPwsSgeQCYZV49mp0LBRxNxLxcIPdtmftHu9t"
    "6I0776cZ8beEbgX6NUcPs7tBf/JR7N0K7uEcETT7v5JC56iVa0BNNZ4mDKfh0dTnSUT0lM"
    "y5ByV5ZkWVMys8tza1VepK5Hr7KqbL4Ft0mcYqvWQbpZcRm9QfLMgAckiseUiX4mDxNCE2"
    "+s1NEzL3q5xaD0pyrVdF6zEjl/30PvMkEFzNkKIRkOMpSkUlB/iC5s/krR68K9VMEanp1k"
    "AbjOdb09BW9tQjzluFeKtIZsUzEWpYVkWpvJ7z9sbwer4Xm83r+fqR402nqxV/Frq2ATZ6"
    "tuvh3p1TclUZUs84JfdiKbnTNvHyCTlOeZyI8lhiYDaqFpNFxm7afpnmxZtu0jTvG3brvo"
    "k0bgWgjYltoCwY+2Wah/HFVZoO+ordP1+FMaa2TQTfjqaBA2MAtAVC4B6brCP3OwVZR3qH"
    "z39wso2TbZxsO3nIMhqpXqpfoSblm9YalW1Qks2R55dxnoitkHoyBpwneolaZ/FEEZoiTT"
    "DdnlDwzFBx+pmNVWsDqaLpVvLHMzGauBkkTYGozIC6RT7EhNNdVoIdTHenldZ8ZToen65k"
    "fPoL/vN5/UpHtsqR6tav/Z44uhXoF3YeZ70+/kW/5qh/3/kg3gr0a456o+7sXhwS/9M+qo"
    "ZjuZbxxcEuU5TKL1Nl9eQMU7Wv0sSpcC0mzPRcyKVQkUGmUFOgMmAdlmsg3uXM9ZH/G4Nz"
    "UtfvSHC3Oa/brG9B++o6E13mSpQU7T4dYXZ9maJRX18y2zQ5Vfs47exhMOr0+sMPWWO1ru"
    "Ct4B7O0cN41BUnE1rsHc/RWOz0frsV6Nccve/0BySCa31XZJgFsmJqUNIYUxDZZGdUsgnE"
    "0LEJz72mLmLGA/YEL1eAz+5KVkaO2V00hQu7eVF9JKxw7BfKucJxLm28PT7oRaxvjLv7bN"
    "SzK9CE7qXsWTucIGBDX89QMScIXqLW00wkcd7YHGtNRkS5b5nXt+QL3lZqNg9f6rOIpT69"
    "RejiO5wC4G32In+RDvYZa/zxyVJP07saRCvZoPTcs1AaO9epoamTCihzj33S1TNRmtGLNA"
    "miTDx4YJEEQk7jF93Ah2xQRwhOVfyRcsbe1L5YQ17UPHkDFAJW7oCDzxP5A65SnkwioGFO"
    "wdWmsNbUnQAE/J9N0mkK9HLCKyA89N7/TRf2+MH112fC41ZebgVjCwUdAg0fWshrAnE69D"
    "fhCG85d5mjOZrtBUMVuvcTySFxpfvOJ4mEIKW736biBF9Fkw0DInw1/EEuZt1NxvfR1CXE"
    "P1ZvhI5AERTUtSAbuqA+ojNBV3F1YAjklcf/w5LT5+iVigT4FWoH+qBEhFy189B/LSBSLq"
    "w0sNEFkz4aEHZwAxYHw6pIcACKijY/4fsIGxXqwqNsbOlN6fUpdk8ncPD0ikqmV8R3hmwq"
    "wanfCA756AwC6SaiaCds9WHXb9ISEoUtdohfVrSkfz/af6iqAgFiNGG/XAjZBRYsC1q35L"
    "gt+W40GgRa8l0/3FRn93fi+NX56yAjEEWcBy/Zjbu5wcsTbZH2UkfrDInlUVfoyd1eHPcm"
    "Zegn7aok1VJW2tDP01u9FJdi7YUrYlylQCyD7SppgWpPekpYzcIKavJX7MCoprE3sQ+BsA"
    "8Bv8rwURd0Aze9DfwJOyc0R8BycohnsAO6gb0C4n9Q94CUKbjDwIfLLUDYKIk6TGXfLHYX"
    "BbeRO5m+FNfwhgnc9aik69H4zO6Pgwn27SdTcXwreMdzRI6xN9HvkFRu3485ehhZta3vOZ"
    "p+xKbZsNMfTG4F73iOJtPR+Le7UWfcuxW842C+ePgNTZW0dp0maS1si/iS1q7DWQ5Z88Ib"
    "nBNefApJ/bI5c7xFRSdm3qRZpIO9RkdYB19gphVQ7OrNS5AqZemkR3mFLx6BlzlAu/UbRN"
    "IXFi/ZQnmzjXEJmGh6AhzOKJwL2SB/PpsF6RNqEKbH3jgZgi9SLvjDklwHeXWwxN7pkmF6"
    "sGahORLNG/yKX/lrreEDKb6FJ2S4B8Vy5rhXDOqys9z5LL/jZ2JqWtzevmza0RVoQt9xbN"
    "qRzzRgN/960jZ8psFL1HqdyLpTa7gKCe4MCi5z/nVuEq4a41zRNNwTFGhxlJ2dOxvD13lZ"
    "tWyyzvTqlLkwUiZyazbr9zJQW6Ypr94QmXIYYN8kZXon8nF5ihnKVmjS6rX9/TH968kk1g"
    "7rRc1NY3nSlQ7B9/rYwSLLDtFvsoaCOOl/GIo9iRBVZB0F/+85up8Npv2Hzhifcg+rQUfV"
    "jzFpPYjDPKtf2GJYOdYBWeGiK1rrEjtHc9Qd3T8MxCkpdA/nSPz0gDWNy+yDXLorfP0LMr"
    "sc31/KyLiExKr8ouWMPrVTUS/tBOqlHaVeVnCpAA17AdnjIxFRblLmjpR4WGZeGClGtAnR"
    "k7KXSNLgEpIsphyIx4hyxJ9GfIefVt4DzZAsmznjPrYM8eYhf/62nQZ7Uo09rNKTYS6HLP"
    "u+VjUp74aXrCvwCHnuCPm3vYy9kBzRu6BkA6N39Y3WRYO0PDTPfu/qGaRNE5pfqrs9iXHl"
    "0ntIlu/GUuX3m4fjT5mjwldd4qRI1V6F4kgRvt7Pidb7KZVz0inLE2WcbJ2w+ablTpdMp1"
    "ZlGCc+narY0Y3NROnm4k+4jOlaE0LjnkjjNhsuZQeGlazvFXCQss5qCss1LzZVCgcBd0BW"
    "suDsCjQP4ItUO1xcJOxwcRHd4UJTlbgFSRI2v3Ul+O63PIrzsqM4CtANSYcQ5dB7WJZrvi"
    "qaZyVZZliW43TrgVatDbB8snI3MzRXsiEiQzu04lYl9M6eJS5LSOpJ0K14vM0NkSEbB6sN"
    "4Gr2T+wrEaG8mxuSfst3D6vTeeY1uR9YST8QN1JVk3J4gxHB5hnRpTiFYOl03xmQju/wm5"
    "CNdp3GT7lmuynXUTcw2COmdgaDYg2EuvgVRbzRJlMPHhDjjFVuxmoB16qWaY8xT+JZm4xV"
    "rNdOALKU3cTA2oAx81HZsLsCHPX8qGsQ/209nh5PSrL0SzXPRik+vzJ7eIIHJaoVlEgTjr"
    "LM98ypJj4pnuNQVI4DATWqB07EBzMcfE2vUhz8yDQW6jfxK6SPHokg+U+fJYWQVFpRgm7N"
    "o8WQNKiAg0sr8DhPXfuYs4Q4D3v51Hj067Bkak6Tqfjll/bg4MzeTusS+ET4fs+F+wqcYm"
    "W/C821aYPjWBatByV5knx12FRLyxno1DJNvZ/VRZyJR4oTTbs/7QpHs+i8pQc0E0lW+KlI"
    "QtDJNuaGIjcUuaHIDcXaGooruDL3MOsiIUGp5iVDl5GdW8O1dP49E2f2cjYZltKxpG4F63"
    "uOxrPhkC6tYx/M0WTW7Ypij1RyD+eoJ3ZwAfls5dBZ8QvoAMOAu31cNho7POwTOR6v+7bc"
    "8biwJeCJvnKAGhY7HrBXNQHWs3EjqD7h9vkFuddXNa8vmGqCITVzOfchUa7nKutZgUCHUv"
    "71TOLkucYrrXEyuSHzEu9BqSbkdTwxjSjZ9cmxzvuJFpuoGOqnXWuC8xMviZ/ga+w3Teus"
    "6V+BvXlkJOvbXGoPiXI7pjpqrhQvNVFNbQlbMdSUfeYsiZ2Sya7JhqR7VY84e408hLUXMz"
    "b1JOqQG5xWqquFw2mlk8zD4dsml8td4Duu5U0W1s6T4KRd4aSdDrEXFBdDZ+vDJ8IVUrxC"
    "DBC382SCOhwBrozilbHEHoOpQGknI9OIW7CHvVVljGiDgjyFEU4+szVkT6qqAgFi8RCuVA"
    "jUBRYrq707puZxW/bdaDQItOy7fjgkObu/E8evzmkz97ZcjYJNna69ucCdQszm7omIh0WP"
    "CLtbUlvc/Q5ZBPbkuEVIlMctqha34LHodONGPaOSPBb9ErWeJhadd8eWAvZpqZyWqzD118"
    "Y1qozMk38fvCvVTBFpJwAH22DWnV8D2WLPXGHPCqqPTdQgtEtdY88DjElR2GimZCmIcXlc"
    "psK+r9X48Muo2UMgpypq2SefJVAVNcxUt1PLM4awWmlT0993+gNSZH230umy5PR0fPfNJi"
    "7ll017+EQayXykIj4SeI+YKRtaPh8hKMl9hKr4CGk8wy3Eultgzz6H3sOyXPN10jzPVHoZ"
    "Eb+1asYlYzDNS7c+n9PFSOTNAKZPgsMZhtOOLWaA0yfB4QzDqX+R9/tMcPokOJxhONdAjm"
    "V92R2nK8DBDIO5UVFMyggTSqc6BzIM5F5T8b/cZUqH8stUIwXnVDs0lZKCk3k2G5/I9oyJ"
    "bIHQbPqgaUCMU1pFUVreNIJnMlre1IWaqSEtoRVogFn5rDLpmg7U5OW2FcPV2GfOErdC8u"
    "pUZl/Zl8KcPNOoYHMiX6GmZ9y2xifSxGh7KXsD4ZcqA8J29Qaie55qFsd5wiyO89hZHIa9"
    "tnaGaRyOyPHN5NOYaIUZxCedG/nj/1fqbIM="
)
