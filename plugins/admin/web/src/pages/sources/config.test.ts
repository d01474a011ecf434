import { describe, expect, it } from "vitest";
import {
  formFields,
  initialValues,
  kindLabel,
  kindTitle,
  labelOf,
  OTHER_SETTINGS,
  splitErrors,
  toCreateInput,
  toUpdateInput,
  type ConfigFieldDescription,
  type ExistingSource,
  type KindInfo,
  type SourceFormValues,
} from "./config";

/** A config field as the API describes it (SourceKind.configFields). */
function described(
  name: string,
  type: ConfigFieldDescription["type"],
  extra: Partial<ConfigFieldDescription> = {},
): ConfigFieldDescription {
  return {
    name,
    label: labelOf(name),
    type,
    required: false,
    help: "",
    choices: [],
    default: null,
    min: null,
    max: null,
    secret: type === "SECRET",
    ...extra,
  };
}

// The built-in kinds as `sourceKinds` describes them (the shapes the Python tests check against the plugins).
const RSS: KindInfo = {
  kind: "rss",
  label: "RSS / Atom / podcast feed",
  description: "",
  secretFields: [],
  configFields: [
    described("url", "URL", { label: "Feed URL", required: true, help: "The feed's address, starting with http:// or https://." }),
    described("maxItems", "INTEGER", { label: "Most items per run", min: 1, max: 5000, help: "The newest items taken on each run." }),
  ],
};
const YOUTUBE: KindInfo = {
  kind: "youtube",
  label: "YouTube channel or playlist",
  description: "Give one of the channel or playlist address, a channel id or a playlist id.",
  secretFields: ["apiKey"],
  configFields: [
    described("url", "URL", { label: "Channel or playlist URL" }),
    described("channelId", "STRING", { label: "Channel id" }),
    described("playlistId", "STRING", { label: "Playlist id" }),
    described("maxItems", "INTEGER", { min: 1, max: 5000 }),
    described("maxDurationMinutes", "INTEGER", { min: 1, max: 240 }),
    described("apiKey", "SECRET", { label: "YouTube Data API key" }),
  ],
};
const TELEGRAM: KindInfo = {
  kind: "telegram",
  label: "Telegram channel",
  description: "",
  secretFields: ["apiHash", "botToken", "session", "webhookSecret"],
  configFields: [
    described("chatId", "STRING", { label: "Channel", required: true }),
    described("botToken", "SECRET", { required: true }),
    described("mode", "CHOICE", { choices: ["polling", "webhook"], default: "polling" }),
    described("webhookSecret", "SECRET"),
    described("botApiUrl", "URL", { default: "https://api.telegram.org" }),
    described("backfill", "BOOLEAN", { default: false }),
    described("apiId", "INTEGER", { min: 1, max: 2147483647 }),
    described("apiHash", "SECRET"),
    described("session", "SECRET"),
  ],
};

function values(overrides: Partial<SourceFormValues>): SourceFormValues {
  return {
    kind: "rss",
    name: "Feed",
    programId: "UHJvZ3JhbTox",
    scheduleMinutes: "",
    enabled: true,
    autoPublish: false,
    config: {},
    removeSecrets: {},
    ...overrides,
  };
}

describe("formFields: the API's config description -> the form's fields", () => {
  it("gives rss a required url input and a bounded number, with the plugin's labels and help", () => {
    const fields = formFields(RSS);
    expect(fields.map((field) => [field.name, field.label, field.control, field.required])).toEqual([
      ["url", "Feed URL", "url", true],
      ["maxItems", "Most items per run", "number", false],
    ]);
    expect(fields[1]).toMatchObject({ min: 1, max: 5000 });
    expect(fields[0]!.hint).toMatch(/http/);
    expect(fields.some((field) => field.name === OTHER_SETTINGS)).toBe(false);
  });

  it("makes secret fields password inputs, showing no default, range or choices", () => {
    const fields = formFields(YOUTUBE);
    expect(fields.find((field) => field.name === "apiKey")).toMatchObject({ control: "password", secret: true });
    expect(fields.find((field) => field.name === "channelId")).toMatchObject({ control: "text", secret: false });
    const odd = formFields({
      kind: "x",
      secretFields: ["pin"],
      configFields: [described("pin", "INTEGER", { min: 1000, max: 9999, default: 1234, secret: false })],
    });
    expect(odd).toEqual([{ name: "pin", label: "Pin", control: "password", required: false, secret: true }]);
  });

  it("maps choices to selects, booleans to checkboxes, keeps the required marks and the plugin's defaults", () => {
    const fields = formFields(TELEGRAM);
    const byName = Object.fromEntries(fields.map((field) => [field.name, field]));
    expect(byName.mode).toMatchObject({ control: "select", options: ["polling", "webhook"], initial: "polling" });
    expect(byName.backfill).toMatchObject({ control: "checkbox", initial: false });
    expect(byName.botToken).toMatchObject({ control: "password", required: true, secret: true });
    expect(byName.session).toMatchObject({ control: "password" });
    expect(byName.chatId).toMatchObject({ control: "text", required: true });
    expect(byName.apiId).toMatchObject({ control: "number", min: 1, max: 2147483647 });
    // A text default is a placeholder, not a value: left empty, the plugin's default applies.
    expect(byName.botApiUrl).toMatchObject({ control: "url", placeholder: "https://api.telegram.org" });
    expect(byName.botApiUrl).not.toHaveProperty("initial");
    expect(fields.map((field) => field.name)).toEqual(TELEGRAM.configFields!.map((field) => field.name));
  });

  it("adds a secret field the description does not name", () => {
    const fields = formFields({ ...RSS, secretFields: ["password"] });
    expect(fields.at(-1)).toMatchObject({ name: "password", control: "password", secret: true, label: "Password" });
  });

  it("gives a kind described by nothing its secrets and a JSON object for the rest", () => {
    for (const kind of [
      { kind: "podcastindex", secretFields: ["apiSecret"] },
      { kind: "podcastindex", secretFields: ["apiSecret"], configFields: [] },
    ]) {
      const fields = formFields(kind);
      expect(fields.map((field) => [field.name, field.control])).toEqual([
        ["apiSecret", "password"],
        [OTHER_SETTINGS, "textarea"],
      ]);
      expect(fields[0]!.label).toBe("Api secret");
    }
  });

  it("labels a bare name readably", () => {
    expect(labelOf("webhookSecret")).toBe("Webhook secret");
    expect(labelOf("api_hash")).toBe("Api hash");
  });

  it("names kinds by their plugin's label", () => {
    expect(kindTitle(RSS)).toBe("RSS / Atom / podcast feed (rss)");
    expect(kindTitle({ kind: "other", label: "other", secretFields: [] })).toBe("other");
    expect(kindLabel("youtube", [RSS, YOUTUBE])).toBe("YouTube channel or playlist");
    expect(kindLabel("youtube")).toBe("youtube");
  });
});

describe("initialValues", () => {
  it("starts a new source with the plugin's defaults and an hourly schedule", () => {
    const start = initialValues(formFields(TELEGRAM), "telegram");
    expect(start.config.mode).toBe("polling");
    expect(start.config.backfill).toBe(false);
    expect(start.scheduleMinutes).toBe("60");
  });

  it("shows an existing source's config as text, never a secret's value", () => {
    const source: ExistingSource = {
      kind: "telegram",
      name: "Channel",
      programId: "P1",
      config: { chatId: -1001234567890, mode: "webhook", backfill: true },
      secretsSet: ["botToken"],
      scheduleMinutes: null,
      enabled: false,
      autoPublish: true,
    };
    const start = initialValues(formFields(TELEGRAM), "rss", source);
    expect(start).toMatchObject({ kind: "telegram", name: "Channel", scheduleMinutes: "", enabled: false, autoPublish: true });
    expect(start.config).toMatchObject({ chatId: "-1001234567890", mode: "webhook", backfill: true, botToken: "" });
  });

  it("puts an undescribed kind's settings in the JSON field", () => {
    const fields = formFields({ kind: "other", secretFields: [] });
    const start = initialValues(fields, "other", {
      kind: "other",
      name: "x",
      programId: "P",
      config: { url: "https://a.example/", depth: 2 },
      secretsSet: [],
      scheduleMinutes: 30,
      enabled: true,
      autoPublish: false,
    });
    expect(JSON.parse(start.config[OTHER_SETTINGS] as string)).toEqual({ url: "https://a.example/", depth: 2 });
    expect(start.scheduleMinutes).toBe("30");
  });
});

describe("toCreateInput: the form's values -> createSource's input", () => {
  it("coerces numbers, trims text and leaves empty optional fields out", () => {
    const built = toCreateInput(
      formFields(RSS),
      values({ config: { url: "  https://feeds.example/show.xml ", maxItems: "" }, scheduleMinutes: " 90 " }),
    );
    expect(built.input).toEqual({
      kind: "rss",
      name: "Feed",
      programId: "UHJvZ3JhbTox",
      config: { url: "https://feeds.example/show.xml" },
      scheduleMinutes: 90,
      enabled: true,
      autoPublish: false,
    });
  });

  it("sends numbers as numbers and leaves an empty schedule out (only when asked)", () => {
    const built = toCreateInput(formFields(RSS), values({ config: { url: "https://x.example/", maxItems: "25" } }));
    expect(built.input?.config).toEqual({ url: "https://x.example/", maxItems: 25 });
    expect(built.input).not.toHaveProperty("scheduleMinutes");
  });

  it("sends booleans as booleans and typed secrets as typed", () => {
    const built = toCreateInput(
      formFields(TELEGRAM),
      values({
        kind: "telegram",
        config: { chatId: "@news", botToken: "123:abc", mode: "polling", backfill: true, apiId: "42", webhookSecret: "" },
        autoPublish: true,
      }),
    );
    expect(built.input?.config).toEqual({ chatId: "@news", botToken: "123:abc", mode: "polling", backfill: true, apiId: 42 });
    expect(built.input?.autoPublish).toBe(true);
  });

  it("refuses what is not a whole number, by field, and sends nothing", () => {
    const built = toCreateInput(formFields(RSS), values({ config: { url: "https://x/", maxItems: "2.5" }, scheduleMinutes: "hourly" }));
    expect(built.input).toBeUndefined();
    expect(built.errors).toEqual({ maxItems: "must be a whole number", scheduleMinutes: "must be a whole number of minutes" });
  });

  it("merges an undescribed kind's JSON settings and refuses JSON that is not an object", () => {
    const fields = formFields({ kind: "other", secretFields: ["token"] });
    const ok = toCreateInput(fields, values({ kind: "other", config: { token: "s3cret", [OTHER_SETTINGS]: '{"url": "https://a/", "token": "x"}' } }));
    expect(ok.input?.config).toEqual({ token: "s3cret", url: "https://a/" });
    const bad = toCreateInput(fields, values({ kind: "other", config: { [OTHER_SETTINGS]: "[1, 2]" } }));
    expect(bad.errors?.[OTHER_SETTINGS]).toMatch(/JSON object/);
  });

  it("only sends the current kind's fields when the editor switched kinds", () => {
    const built = toCreateInput(formFields(RSS), values({ config: { url: "https://x/", chatId: "@left-over", apiKey: "k" } }));
    expect(built.input?.config).toEqual({ url: "https://x/" });
  });
});

describe("toUpdateInput", () => {
  const source: ExistingSource = {
    kind: "youtube",
    name: "Talks",
    programId: "P1",
    config: { channelId: "UCxxxxxxxxxxxxxxxxxxxxxx", maxItems: 50 },
    secretsSet: ["apiKey"],
    scheduleMinutes: 60,
    enabled: true,
    autoPublish: false,
  };
  const fields = formFields(YOUTUBE);

  it("leaves the config out when nothing in it changed (an unchanged secret is not sent)", () => {
    const start = initialValues(fields, "youtube", source);
    const built = toUpdateInput(fields, { ...start, name: "Talks 2", scheduleMinutes: "" }, source);
    expect(built.input).toEqual({ name: "Talks 2", programId: "P1", scheduleMinutes: null, enabled: true, autoPublish: false });
  });

  it("sends the whole config without the secret when a plain field changed", () => {
    const start = initialValues(fields, "youtube", source);
    const built = toUpdateInput(fields, { ...start, config: { ...start.config, maxItems: "10" } }, source);
    expect(built.input?.config).toEqual({ channelId: "UCxxxxxxxxxxxxxxxxxxxxxx", maxItems: 10 });
  });

  it("sends a replaced secret, and null for one to remove", () => {
    const start = initialValues(fields, "youtube", source);
    const replaced = toUpdateInput(fields, { ...start, config: { ...start.config, apiKey: "new-key-0123456789abcdef" } }, source);
    expect(replaced.input?.config).toMatchObject({ apiKey: "new-key-0123456789abcdef" });
    const removed = toUpdateInput(fields, { ...start, removeSecrets: { apiKey: true } }, source);
    expect(removed.input?.config).toEqual({ channelId: "UCxxxxxxxxxxxxxxxxxxxxxx", maxItems: 50, apiKey: null });
  });

  it("does not ask to remove a secret that was never set", () => {
    const unset = { ...source, secretsSet: [] };
    const start = initialValues(fields, "youtube", unset);
    const built = toUpdateInput(fields, { ...start, removeSecrets: { apiKey: true } }, unset);
    expect(built.input).not.toHaveProperty("config");
  });

  it("treats an unticked checkbox as the absent key it was", () => {
    const telegram: ExistingSource = {
      ...source,
      kind: "telegram",
      config: { chatId: "@news", mode: "polling" },
      secretsSet: ["botToken"],
    };
    const tf = formFields(TELEGRAM);
    const built = toUpdateInput(tf, initialValues(tf, "telegram", telegram), telegram);
    expect(built.input).not.toHaveProperty("config");
  });

  it("shows a select the stored config leaves out at the plugin's default, and that is no change", () => {
    const telegram: ExistingSource = { ...source, kind: "telegram", config: { chatId: "@news" }, secretsSet: ["botToken"] };
    const tf = formFields(TELEGRAM);
    const start = initialValues(tf, "telegram", telegram);
    expect(start.config).toMatchObject({ mode: "polling", backfill: false, botApiUrl: "" });
    expect(toUpdateInput(tf, start, telegram).input).not.toHaveProperty("config");
    const webhook = toUpdateInput(tf, { ...start, config: { ...start.config, mode: "webhook" } }, telegram);
    expect(webhook.input?.config).toEqual({ chatId: "@news", mode: "webhook", backfill: false });
  });
});

describe("splitErrors: the API's field errors -> beside which field", () => {
  const names = formFields(RSS).map((field) => field.name);

  it("puts an older plugin's 'url: ...' message on ['input', 'config'] beside the url field", () => {
    const split = splitErrors(
      [{ path: ["input", "config"], message: "url: the feed's address, starting with http:// or https://" }],
      names,
    );
    expect(split.config).toEqual({ url: "the feed's address, starting with http:// or https://" });
    expect(split.fields).toEqual({});
  });

  it("puts a path that names the config field beside it", () => {
    const split = splitErrors([{ path: ["input", "config", "maxItems"], message: "too many" }], names);
    expect(split.config).toEqual({ maxItems: "too many" });
  });

  it("keeps a config message no field owns for the settings as a whole", () => {
    const split = splitErrors(
      [{ path: ["input", "config"], message: "unknown fields ['x']: an rss source takes url and maxItems" }],
      names,
    );
    expect(split.configGeneral).toMatch(/unknown fields/);
    expect(split.config).toEqual({});
  });

  it("files the common fields by their last path element", () => {
    const split = splitErrors(
      [
        { path: ["input", "name"], message: "is required" },
        { path: ["input", "scheduleMinutes"], message: "must be between 5 and 10080" },
        { path: ["input", "programId"], message: "is not the id of a program" },
      ],
      names,
    );
    expect(split.fields).toEqual({
      name: "is required",
      scheduleMinutes: "must be between 5 and 10080",
      programId: "is not the id of a program",
    });
  });
});
