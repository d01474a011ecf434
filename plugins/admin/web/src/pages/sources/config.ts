// What an ingest source's config looks like in the form, and how the form's values become createSource/updateSource
// input.
//
// The API describes a source kind only by its name and its write-only fields (`SourceKind { kind secretFields }`):
// each plugin checks its config in `validate_config` and answers a ValidationError on ["input", "config"] whose
// message starts with the config field at fault ("url: the feed's address, ..."). So the fields of the plugins this
// CMS ships (rss, youtube, telegram) are described here, after their validate_config; the API stays the judge of
// which fields are secret, and a kind not described here gets its secret fields as password inputs plus its other
// settings as a JSON object.
import type { FieldError } from "../../lib/results";

export type ConfigFieldType = "string" | "url" | "integer" | "boolean" | "enum" | "multiline";

/** One config field of a source kind, as its plugin checks it. */
export interface ConfigField {
  name: string;
  label: string;
  type: ConfigFieldType;
  required?: boolean;
  help?: string;
  options?: readonly string[];
  min?: number;
  max?: number;
  /** Shown when the field is empty on a new source (the plugin's own default). */
  initial?: string | boolean;
}

export interface KindDescription {
  label: string;
  /** A sentence above the kind's fields (e.g. "give one of ..."). */
  note?: string;
  fields: readonly ConfigField[];
}

export const KIND_DESCRIPTIONS: Readonly<Record<string, KindDescription>> = {
  rss: {
    label: "RSS / Atom / podcast feed",
    fields: [
      {
        name: "url",
        label: "Feed URL",
        type: "url",
        required: true,
        help: "The feed's address, starting with http:// or https://.",
      },
      {
        name: "maxItems",
        label: "Most items per run",
        type: "integer",
        min: 1,
        max: 5000,
        help: "The newest items taken on each run, 1 to 5,000; empty: all of them.",
      },
    ],
  },
  youtube: {
    label: "YouTube channel or playlist",
    note: "Give one of: the channel or playlist address, a channel id or a playlist id.",
    fields: [
      {
        name: "url",
        label: "Channel or playlist URL",
        type: "url",
        help: "https://www.youtube.com/channel/UC... or https://www.youtube.com/playlist?list=PL... (not an @handle).",
      },
      { name: "channelId", label: "Channel id", type: "string", help: "UC followed by 22 characters." },
      { name: "playlistId", label: "Playlist id", type: "string", help: "PL..., UU... (the list=... part of the address)." },
      {
        name: "maxItems",
        label: "Most videos per run",
        type: "integer",
        min: 1,
        max: 5000,
        help: "The newest videos taken on each run, 1 to 5,000.",
      },
      {
        name: "maxDurationMinutes",
        label: "Longest video (minutes)",
        type: "integer",
        min: 1,
        help: "Longer videos are refused.",
      },
      {
        name: "apiKey",
        label: "YouTube Data API key",
        type: "string",
        help: "Optional: without one only the channel's 15 newest videos (its public feed) are read.",
      },
    ],
  },
  telegram: {
    label: "Telegram channel",
    fields: [
      {
        name: "chatId",
        label: "Channel",
        type: "string",
        required: true,
        help: "The channel's @username (e.g. @my_channel) or its numeric id (e.g. -1001234567890).",
      },
      { name: "botToken", label: "Bot token", type: "string", required: true, help: "The bot's token from @BotFather (123456789:AA...)." },
      {
        name: "mode",
        label: "Mode",
        type: "enum",
        options: ["polling", "webhook"],
        initial: "polling",
        help: "polling: ask for updates on each run; webhook: Telegram pushes them.",
      },
      {
        name: "webhookSecret",
        label: "Webhook secret",
        type: "string",
        help: "Webhook mode only: 16 to 256 characters of A-Z, a-z, 0-9, _ and -.",
      },
      {
        name: "botApiUrl",
        label: "Bot API server URL",
        type: "url",
        help: "Empty: the public https://api.telegram.org (files up to 20 MB).",
      },
      {
        name: "backfill",
        label: "Read the channel's history (backfill)",
        type: "boolean",
        help: "Needs the API id, API hash and session below (an MTProto user session).",
      },
      { name: "apiId", label: "API id", type: "integer", min: 1, help: "The numeric api_id of your app at my.telegram.org." },
      { name: "apiHash", label: "API hash", type: "string", help: "The 32 hex digits of your app's api_hash." },
      { name: "session", label: "Session", type: "multiline", help: "A telethon StringSession string." },
    ],
  },
};

/** The JSON object of settings the form has no field for (kinds this app does not describe). */
export const OTHER_SETTINGS = "otherSettings";

export type Control = "text" | "url" | "number" | "checkbox" | "select" | "password" | "textarea";

/** A config field as the form shows it. */
export interface FormField {
  name: string;
  label: string;
  control: Control;
  required: boolean;
  secret: boolean;
  hint?: string;
  options?: readonly string[];
  min?: number;
  max?: number;
  initial?: string | boolean;
}

export interface KindInfo {
  kind: string;
  secretFields: readonly string[];
}

function controlOf(field: ConfigField, secret: boolean): Control {
  if (secret) return "password";
  switch (field.type) {
    case "url":
      return "url";
    case "integer":
      return "number";
    case "boolean":
      return "checkbox";
    case "enum":
      return "select";
    case "multiline":
      return "textarea";
    default:
      return "text";
  }
}

/** A readable label for a field only its name is known of: "webhookSecret" -> "Webhook secret". */
export function labelOf(name: string): string {
  const words = name.replace(/[_-]+/g, " ").replace(/([a-z0-9])([A-Z])/g, "$1 $2").trim().toLowerCase();
  return words ? words[0]!.toUpperCase() + words.slice(1) : name;
}

/** The form's fields for a kind: its described fields, every secret field the API names, and for an undescribed
 * kind a JSON object for the rest of its settings. */
export function formFields(kind: KindInfo, known: Readonly<Record<string, KindDescription>> = KIND_DESCRIPTIONS): FormField[] {
  const description = known[kind.kind];
  const secrets = new Set(kind.secretFields);
  const fields: FormField[] = (description?.fields ?? []).map((field) => {
    const secret = secrets.has(field.name);
    const shown: FormField = {
      name: field.name,
      label: field.label,
      control: controlOf(field, secret),
      required: Boolean(field.required),
      secret,
    };
    if (field.help) shown.hint = field.help;
    if (field.options && !secret) shown.options = field.options;
    if (field.min !== undefined && !secret) shown.min = field.min;
    if (field.max !== undefined && !secret) shown.max = field.max;
    if (field.initial !== undefined) shown.initial = field.initial;
    return shown;
  });
  for (const name of kind.secretFields) {
    if (!fields.some((field) => field.name === name)) {
      fields.push({ name, label: labelOf(name), control: "password", required: false, secret: true });
    }
  }
  if (!description) {
    fields.push({
      name: OTHER_SETTINGS,
      label: "Other settings (JSON)",
      control: "textarea",
      required: false,
      secret: false,
      hint: `The ${kind.kind} source's other settings as a JSON object, e.g. {"url": "https://..."}.`,
    });
  }
  return fields;
}

export function kindLabel(kind: string): string {
  return KIND_DESCRIPTIONS[kind]?.label ?? kind;
}

// ---------------------------------------------------------------------------------------------------------------
// Values

export interface SourceFormValues {
  kind: string;
  name: string;
  programId: string;
  /** Minutes between runs as typed; empty: only when asked. */
  scheduleMinutes: string;
  enabled: boolean;
  autoPublish: boolean;
  /** Each config field's value as the control holds it (kept across kinds, so switching back loses nothing). */
  config: Record<string, string | boolean>;
  /** Secret fields already set that the editor asked to remove. */
  removeSecrets: Record<string, boolean>;
}

/** What the API says of an existing source (the parts the form edits). */
export interface ExistingSource {
  kind: string;
  name: string;
  programId: string;
  config: unknown;
  secretsSet: readonly string[];
  scheduleMinutes: number | null;
  enabled: boolean;
  autoPublish: boolean;
}

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The form's starting values: a new source of `kind`, or the existing one. */
export function initialValues(fields: readonly FormField[], kind: string, source?: ExistingSource | null): SourceFormValues {
  const config: Record<string, string | boolean> = {};
  const stored = asObject(source?.config);
  const described = new Set(fields.map((field) => field.name));
  for (const field of fields) {
    if (field.name === OTHER_SETTINGS) continue;
    const value = stored[field.name];
    if (field.control === "checkbox") config[field.name] = value === undefined ? field.initial === true : value === true;
    else if (field.secret) config[field.name] = "";
    else if (value === undefined || value === null) config[field.name] = source ? "" : String(field.initial ?? "");
    else config[field.name] = typeof value === "string" ? value : JSON.stringify(value);
  }
  if (described.has(OTHER_SETTINGS)) {
    const rest = Object.fromEntries(Object.entries(stored).filter(([key]) => !described.has(key)));
    config[OTHER_SETTINGS] = Object.keys(rest).length ? JSON.stringify(rest, null, 2) : "";
  }
  return {
    kind: source?.kind ?? kind,
    name: source?.name ?? "",
    programId: source?.programId ?? "",
    scheduleMinutes: source?.scheduleMinutes != null ? String(source.scheduleMinutes) : source ? "" : "60",
    enabled: source?.enabled ?? true,
    autoPublish: source?.autoPublish ?? false,
    config,
    removeSecrets: {},
  };
}

const WHOLE = /^[+-]?\d+$/;

/** The config to send, typed (numbers, booleans), empty optional fields left out; secrets only when typed anew
 * (or null when an existing one is to be removed). Problems the form can see itself come back by field name. */
export function configFromValues(
  fields: readonly FormField[],
  values: SourceFormValues,
  secretsSet: readonly string[] = [],
): { config: Record<string, unknown>; errors: Record<string, string> } {
  const config: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const raw = values.config[field.name];
    if (field.name === OTHER_SETTINGS) {
      const text = typeof raw === "string" ? raw.trim() : "";
      if (!text) continue;
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
        for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
          if (!fields.some((other) => other.name === key)) config[key] = value;
        }
      } catch {
        errors[field.name] = 'must be a JSON object, e.g. {"url": "https://..."}';
      }
      continue;
    }
    if (field.control === "checkbox") {
      config[field.name] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? (field.control === "password" || field.control === "textarea" ? raw : raw.trim()) : "";
    if (field.secret) {
      if (text.trim()) config[field.name] = text;
      else if (values.removeSecrets[field.name] && secretsSet.includes(field.name)) config[field.name] = null;
      continue;
    }
    if (!text.trim()) continue;
    if (field.control === "number") {
      if (!WHOLE.test(text)) errors[field.name] = "must be a whole number";
      else config[field.name] = Number.parseInt(text, 10);
      continue;
    }
    config[field.name] = text;
  }
  return { config, errors };
}

/** "" -> null (only when asked), "60" -> 60; anything else is a problem for the field. */
export function scheduleFromValue(text: string): { minutes: number | null; error?: string } {
  const trimmed = text.trim();
  if (!trimmed) return { minutes: null };
  if (!WHOLE.test(trimmed)) return { minutes: null, error: "must be a whole number of minutes" };
  return { minutes: Number.parseInt(trimmed, 10) };
}

export interface CreateSourceInputValue {
  kind: string;
  name: string;
  programId: string;
  config: Record<string, unknown>;
  scheduleMinutes?: number;
  enabled: boolean;
  autoPublish: boolean;
}

export interface UpdateSourceInputValue {
  name: string;
  programId: string;
  config?: Record<string, unknown>;
  scheduleMinutes: number | null;
  enabled: boolean;
  autoPublish: boolean;
}

export type Built<T> = { input: T; errors?: undefined } | { input?: undefined; errors: Record<string, string> };

/** createSource's input from the form, or the problems to fix first (by field name). */
export function toCreateInput(fields: readonly FormField[], values: SourceFormValues): Built<CreateSourceInputValue> {
  const { config, errors } = configFromValues(fields, values);
  const schedule = scheduleFromValue(values.scheduleMinutes);
  if (schedule.error) errors.scheduleMinutes = schedule.error;
  if (Object.keys(errors).length) return { errors };
  const input: CreateSourceInputValue = {
    kind: values.kind,
    name: values.name,
    programId: values.programId,
    config,
    enabled: values.enabled,
    autoPublish: values.autoPublish,
  };
  if (schedule.minutes !== null) input.scheduleMinutes = schedule.minutes;
  return { input };
}

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stable(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/** Same JSON value, whatever the key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  return stable(a) === stable(b);
}

/** updateSource's input: every common field, and the config only when it changed (no secret typed or removed and
 * the plain fields as stored leave it out, so an unchanged source is not checked again by its plugin). */
export function toUpdateInput(
  fields: readonly FormField[],
  values: SourceFormValues,
  source: ExistingSource,
): Built<UpdateSourceInputValue> {
  const { config, errors } = configFromValues(fields, values, source.secretsSet);
  const schedule = scheduleFromValue(values.scheduleMinutes);
  if (schedule.error) errors.scheduleMinutes = schedule.error;
  if (Object.keys(errors).length) return { errors };
  const input: UpdateSourceInputValue = {
    name: values.name,
    programId: values.programId,
    scheduleMinutes: schedule.minutes,
    enabled: values.enabled,
    autoPublish: values.autoPublish,
  };
  const secretNames = new Set(fields.filter((field) => field.secret).map((field) => field.name));
  const secretChanged = Object.keys(config).some((key) => secretNames.has(key));
  const plain = Object.fromEntries(Object.entries(config).filter(([key]) => !secretNames.has(key)));
  const stored = asObject(source.config);
  // A checkbox left unticked sends false where the stored config may simply not have the key: the same thing.
  const storedComparable = { ...stored };
  for (const field of fields) {
    if (field.control === "checkbox" && !(field.name in storedComparable)) storedComparable[field.name] = false;
  }
  if (secretChanged || !sameJson(plain, storedComparable)) input.config = config;
  return { input };
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

export interface SplitErrors {
  /** Messages for the common fields (name, programId, scheduleMinutes, kind...). */
  fields: Record<string, string>;
  /** Messages for config fields, by config field name. */
  config: Record<string, string>;
  /** A config problem no single field owns ("unknown fields ..."). */
  configGeneral?: string;
}

/** Sorts a ValidationError's field errors: ["input", "config", "url"] and ["input", "config"] with a message
 * "url: ..." both land on the `url` config field (the message without its prefix); the rest by their last element. */
export function splitErrors(errors: readonly FieldError[] | null | undefined, configNames: readonly string[]): SplitErrors {
  const split: SplitErrors = { fields: {}, config: {} };
  for (const error of errors ?? []) {
    const path = error.path;
    const at = path.indexOf("config");
    if (at >= 0 && path.length > at + 1) {
      const name = path[at + 1]!;
      if (!(name in split.config)) split.config[name] = error.message;
      continue;
    }
    if (path[path.length - 1] === "config") {
      const match = /^([A-Za-z_][A-Za-z0-9_]*):\s*(.+)$/s.exec(error.message);
      if (match && configNames.includes(match[1]!)) {
        if (!(match[1]! in split.config)) split.config[match[1]!] = match[2]!;
      } else if (split.configGeneral === undefined) {
        split.configGeneral = error.message;
      }
      continue;
    }
    const name = path[path.length - 1];
    if (name !== undefined && !(name in split.fields)) split.fields[name] = error.message;
  }
  return split;
}
