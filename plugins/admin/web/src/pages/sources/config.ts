// What an ingest source's config looks like in the form, and how the form's values become createSource/updateSource
// input.
//
// Each plugin describes its config (`SourceKind { label description configFields secretFields }`): the form is built
// from that description, field by field. A kind whose plugin describes nothing gets its secret fields as password
// inputs plus its other settings as a JSON object. The plugin's validate_config stays the judge: a refused field
// comes back as a ValidationError on ["input", "config", "<field>"] (older plugins: on ["input", "config"] with a
// message starting "<field>: ..."), shown beside that field.
import type { FieldError } from "../../lib/results";
import type { SourceConfigFieldType } from "../../gql/graphql";

export type { SourceConfigFieldType };

/** One config field as the API describes it (`SourceKind.configFields`). */
export interface ConfigFieldDescription {
  name: string;
  label: string;
  type: SourceConfigFieldType;
  required: boolean;
  help: string;
  choices: readonly string[];
  /** What the plugin uses when the field is left out (a JSON value); null: nothing. */
  default?: unknown;
  min?: number | null;
  max?: number | null;
  secret: boolean;
}

/** A source kind as the API describes it (`sourceKinds`); only `kind` and `secretFields` are sure to be known. */
export interface KindInfo {
  kind: string;
  label?: string;
  /** A sentence about the config as a whole (e.g. "Give one of ..."). */
  description?: string;
  configFields?: readonly ConfigFieldDescription[];
  secretFields: readonly string[];
}

/** The JSON object of settings the form has no field for (kinds whose plugin does not describe their config). */
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
  /** A new source's starting value: the plugin's default of a select or a checkbox. */
  initial?: string | boolean;
  /** The plugin's default of a text or number field, shown while the field is empty (empty: the default applies). */
  placeholder?: string;
}

function controlOf(type: SourceConfigFieldType): Control {
  switch (type) {
    case "URL":
      return "url";
    case "INTEGER":
      return "number";
    case "BOOLEAN":
      return "checkbox";
    case "CHOICE":
      return "select";
    case "SECRET":
      return "password";
    default:
      return "text";
  }
}

/** A readable label for a field only its name is known of: "webhookSecret" -> "Webhook secret". */
export function labelOf(name: string): string {
  const words = name.replace(/[_-]+/g, " ").replace(/([a-z0-9])([A-Z])/g, "$1 $2").trim().toLowerCase();
  return words ? words[0]!.toUpperCase() + words.slice(1) : name;
}

function formField(field: ConfigFieldDescription, secret: boolean): FormField {
  const control = secret ? "password" : controlOf(field.type);
  const shown: FormField = { name: field.name, label: field.label || labelOf(field.name), control, required: field.required, secret };
  if (field.help) shown.hint = field.help;
  if (secret) return shown; // a secret has no default, range or choices to show
  if (control === "select") shown.options = field.choices;
  if (control === "number") {
    if (typeof field.min === "number") shown.min = field.min;
    if (typeof field.max === "number") shown.max = field.max;
  }
  const fallback = field.default;
  if (control === "select" && typeof fallback === "string" && field.choices.includes(fallback)) shown.initial = fallback;
  else if (control === "checkbox") shown.initial = fallback === true;
  else if ((control === "text" || control === "url") && typeof fallback === "string" && fallback) shown.placeholder = fallback;
  else if (control === "number" && typeof fallback === "number") shown.placeholder = String(fallback);
  return shown;
}

/** The form's fields for a kind: the fields its plugin describes, every other secret field the API names, and for a
 * kind described by nothing a JSON object for the rest of its settings. */
export function formFields(kind: KindInfo): FormField[] {
  const described = kind.configFields ?? [];
  const secrets = new Set(kind.secretFields);
  const fields = described.map((field) => formField(field, field.secret || secrets.has(field.name)));
  for (const name of kind.secretFields) {
    if (!fields.some((field) => field.name === name)) {
      fields.push({ name, label: labelOf(name), control: "password", required: false, secret: true });
    }
  }
  if (described.length === 0) {
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

/** A kind's name for editors: its plugin's label when the kinds are known, else the kind itself. */
export function kindLabel(kind: string, kinds?: readonly KindInfo[] | null): string {
  return kinds?.find((item) => item.kind === kind)?.label || kind;
}

/** "RSS / Atom / podcast feed (rss)", or just "rss" when the plugin gives no other name. */
export function kindTitle(kind: KindInfo): string {
  return kind.label && kind.label !== kind.kind ? `${kind.label} (${kind.kind})` : kind.kind;
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
    // Left out of a stored config, a select shows the plugin's default: what the source uses.
    else if (value === undefined || value === null) config[field.name] = typeof field.initial === "string" ? field.initial : "";
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
  // A key the stored config leaves out means the plugin's default, which the form shows in a checkbox or a select
  // (an unticked checkbox: false): sending that default back is no change.
  const storedComparable = { ...stored };
  for (const field of fields) {
    if (field.name in storedComparable || field.secret) continue;
    if (field.control === "checkbox") storedComparable[field.name] = field.initial === true;
    else if (field.control === "select" && typeof field.initial === "string") storedComparable[field.name] = field.initial;
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

/** Sorts a ValidationError's field errors: ["input", "config", "url"] lands on the `url` config field, and so does
 * ["input", "config"] with a message "url: ..." (plugins that do not name the field in the path; the message
 * without its prefix); other config messages are the settings' as a whole; the rest go by their last element. */
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
