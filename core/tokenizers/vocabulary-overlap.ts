import { byteLevelTokenToBytes } from "./byte-level.ts";
import type { LoadedTokenizer } from "./tokenizer.ts";

/** Sizes of two vocabularies under one definition of "the same entry", and their overlap. */
export interface OverlapCounts {
  /** Distinct entries of the student under this definition. */
  readonly studentEntries: number;
  /** Distinct entries of the teacher. */
  readonly teacherEntries: number;
  /** Entries in both. */
  readonly sharedEntries: number;
  /** Entries in either. */
  readonly unionEntries: number;
  /** `sharedEntries / studentEntries`. */
  readonly shareOfStudent: number;
  /** `sharedEntries / teacherEntries`. */
  readonly shareOfTeacher: number;
  /** `sharedEntries / unionEntries` (Jaccard index). */
  readonly shareOfUnion: number;
}

/** Vocabulary overlap of a student and a teacher tokenizer under two definitions. */
export interface VocabularyOverlap {
  /** Every vocabulary string, added and special tokens included, compared as written (`▁the` ≠ `Ġthe`). */
  readonly raw: OverlapCounts;
  /**
   * Every non-special token mapped to the bytes of text it stands for
   * (`▁` and byte-level `Ġ` become a space, `<0x0A>` and byte-level `Ċ` the
   * byte 0x0A), then compared as byte strings, so `▁the` = `Ġthe`.
   */
  readonly text: OverlapCounts;
}

/** One-line definitions of the two measures, for reports. */
export const OVERLAP_DEFINITIONS = {
  raw: "vocabulary strings as written, added and special tokens included",
  text: "non-special tokens as the bytes of text they stand for (▁ and Ġ as a space, <0xNN> and byte-level characters as bytes)",
} as const;

/**
 * Measures how many vocabulary entries a student and a teacher share.
 *
 * @example
 * const overlap = vocabularyOverlap(await loadTokenizer("tinyllama"), await loadTokenizer("qwen"));
 * overlap.text.shareOfTeacher; // share of the teacher's entries that the student also has
 */
export function vocabularyOverlap(student: LoadedTokenizer, teacher: LoadedTokenizer): VocabularyOverlap {
  return {
    raw: countOverlap(rawEntries(student), rawEntries(teacher)),
    text: countOverlap(textEntries(student), textEntries(teacher)),
  };
}

function rawEntries(tokenizer: LoadedTokenizer): Set<string> {
  return new Set(tokenizer.vocabularyEntries().map(([token]) => token));
}

/** Maps tokens to their text bytes, kept as latin1 strings so that byte strings compare exactly. */
function textEntries(tokenizer: LoadedTokenizer): Set<string> {
  const { traits } = tokenizer;
  const entries = new Set<string>();
  for (const [token, id] of tokenizer.vocabularyEntries()) {
    if (tokenizer.isSpecialId(id)) {
      continue;
    }
    entries.add(Buffer.from(tokenTextBytes(token, traits)).toString("latin1"));
  }
  return entries;
}

function tokenTextBytes(token: string, traits: LoadedTokenizer["traits"]): Uint8Array {
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
  if (byte !== null && traits.byteFallback) {
    return Uint8Array.of(Number.parseInt(byte[1], 16));
  }
  if (traits.byteLevel) {
    const bytes = byteLevelTokenToBytes(token);
    if (bytes !== null) {
      return bytes;
    }
  }
  let text = token;
  if (traits.continuingSubwordPrefix !== null && text.startsWith(traits.continuingSubwordPrefix)) {
    text = text.slice(traits.continuingSubwordPrefix.length);
  }
  if (traits.endOfWordSuffix !== null && text.endsWith(traits.endOfWordSuffix)) {
    text = text.slice(0, text.length - traits.endOfWordSuffix.length);
  }
  if (traits.spaceReplacement !== null) {
    text = text.replaceAll(traits.spaceReplacement, " ");
  }
  return Buffer.from(text, "utf8");
}

function countOverlap(student: Set<string>, teacher: Set<string>): OverlapCounts {
  let shared = 0;
  for (const entry of student) {
    if (teacher.has(entry)) {
      shared++;
    }
  }
  const union = student.size + teacher.size - shared;
  return {
    studentEntries: student.size,
    teacherEntries: teacher.size,
    sharedEntries: shared,
    unionEntries: union,
    shareOfStudent: student.size === 0 ? 0 : shared / student.size,
    shareOfTeacher: teacher.size === 0 ? 0 : shared / teacher.size,
    shareOfUnion: union === 0 ? 0 : shared / union,
  };
}
