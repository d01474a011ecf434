// Program and episode forms: what the inputs hold (always strings, exactly as typed) and the mutation inputs made
// from them. Blank optional fields are left out on create; an update sends only the fields that changed.
import type { CreateEpisodeInput, CreateProgramInput, UpdateEpisodeInput, UpdateProgramInput } from "../gql/graphql";
import { splitTags } from "./listState";

export interface ProgramValues {
  title: string;
  slug: string;
  description: string;
  category: string;
  language: string;
  /** Comma separated. */
  tags: string;
}

export interface EpisodeValues {
  programId: string;
  title: string;
  slug: string;
  season: string;
  number: string;
  description: string;
}

/** Field messages found before asking the API, by the API's field names. */
export type Problems = Record<string, string>;

export type Converted<T> = { input: T; problems: null } | { input: null; problems: Problems };

interface ProgramLike {
  title: string;
  slug: string;
  description: string;
  category: string | null;
  language: string | null;
  tags: readonly string[];
}

interface EpisodeLike {
  title: string;
  slug: string;
  season: number | null;
  number: number | null;
  description: string;
  program: { id: string };
}

export const EMPTY_PROGRAM: ProgramValues = { title: "", slug: "", description: "", category: "", language: "", tags: "" };
export const EMPTY_EPISODE: EpisodeValues = { programId: "", title: "", slug: "", season: "", number: "", description: "" };

export function programValues(program: ProgramLike): ProgramValues {
  return {
    title: program.title,
    slug: program.slug,
    description: program.description,
    category: program.category ?? "",
    language: program.language ?? "",
    tags: program.tags.join(", "),
  };
}

export function episodeValues(episode: EpisodeLike): EpisodeValues {
  return {
    programId: episode.program.id,
    title: episode.title,
    slug: episode.slug,
    season: episode.season === null ? "" : String(episode.season),
    number: episode.number === null ? "" : String(episode.number),
    description: episode.description,
  };
}

const blank = (value: string) => value.trim() === "";
const orNull = (value: string) => (blank(value) ? null : value.trim());

/** "" -> null, " 12 " -> 12; anything but digits is a problem (the API checks the range). */
export function parseCount(text: string): { value: number | null; problem: string | null } {
  const value = text.trim();
  if (value === "") return { value: null, problem: null };
  if (!/^\d+$/.test(value)) return { value: null, problem: "must be a whole number" };
  return { value: Number(value), problem: null };
}

/** Every field as the API takes it on update (slug left out when blank: the API then keeps the current one). */
function programFields(values: ProgramValues): UpdateProgramInput {
  const fields: UpdateProgramInput = {
    title: values.title,
    description: values.description,
    category: orNull(values.category),
    language: orNull(values.language),
    tags: splitTags(values.tags),
  };
  if (!blank(values.slug)) fields.slug = values.slug.trim();
  return fields;
}

export function programCreateInput(values: ProgramValues): CreateProgramInput {
  const input: CreateProgramInput = { title: values.title };
  if (!blank(values.slug)) input.slug = values.slug.trim();
  if (!blank(values.description)) input.description = values.description;
  if (!blank(values.category)) input.category = values.category.trim();
  if (!blank(values.language)) input.language = values.language.trim();
  const tags = splitTags(values.tags);
  if (tags.length) input.tags = tags;
  return input;
}

/** Only what differs from the values the form started with (compared after the same clean-up). */
export function programUpdateInput(values: ProgramValues, initial: ProgramValues): UpdateProgramInput {
  return changedFields(programFields(values), programFields(initial));
}

function episodeFields(values: EpisodeValues): Converted<UpdateEpisodeInput> {
  const season = parseCount(values.season);
  const number = parseCount(values.number);
  const problems: Problems = {};
  if (season.problem) problems.season = season.problem;
  if (number.problem) problems.number = number.problem;
  if (Object.keys(problems).length) return { input: null, problems };
  const fields: UpdateEpisodeInput = {
    title: values.title,
    season: season.value,
    number: number.value,
    description: values.description,
  };
  if (!blank(values.slug)) fields.slug = values.slug.trim();
  return { input: fields, problems: null };
}

export function episodeCreateInput(values: EpisodeValues): Converted<CreateEpisodeInput> {
  const fields = episodeFields(values);
  const problems: Problems = { ...fields.problems };
  if (blank(values.programId)) problems.programId = "choose a program";
  if (fields.input === null || Object.keys(problems).length) return { input: null, problems };
  const input: CreateEpisodeInput = { programId: values.programId, title: values.title };
  if (fields.input.slug) input.slug = fields.input.slug;
  if (fields.input.season !== null) input.season = fields.input.season;
  if (fields.input.number !== null) input.number = fields.input.number;
  if (!blank(values.description)) input.description = values.description;
  return { input, problems: null };
}

export function episodeUpdateInput(values: EpisodeValues, initial: EpisodeValues): Converted<UpdateEpisodeInput> {
  const fields = episodeFields(values);
  if (fields.input === null) return fields;
  const before = episodeFields(initial).input ?? {};
  return { input: changedFields(fields.input, before), problems: null };
}

function changedFields<T extends object>(after: T, before: T): T {
  const changed: Partial<T> = {};
  for (const key of Object.keys(after) as (keyof T)[]) {
    if (JSON.stringify(after[key]) !== JSON.stringify(before[key])) changed[key] = after[key];
  }
  return changed as T;
}

export const hasChanges = (input: object) => Object.keys(input).length > 0;
