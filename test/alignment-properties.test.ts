import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { alignTokens, type TokenAlignment } from "../core/alignment/align.ts";
import { bruteForceAlignment } from "../core/alignment/reference.ts";
import { byteLevelTokenToBytes } from "../core/tokenizers/byte-level.ts";
import { sliceUtf8Span } from "../core/tokenizers/offsets.ts";
import {
  addBosEos,
  type EncodedDocument,
  type LoadedTokenizer,
  loadTokenizer,
} from "../core/tokenizers/tokenizer.ts";

/**
 * Properties of tokenization spans and alignment on real tokenizer pairs:
 * TinyLlama (Llama-2) as the student against Qwen, Llama-3, Gemma-3 and
 * Mistral as teachers, and every tokenizer against itself.
 */

const NAMES = ["tinyllama", "qwen", "llama3", "gemma3", "mistral"] as const;
type Name = (typeof NAMES)[number];
const PAIRS: Array<[Name, Name]> = [
  ["tinyllama", "qwen"],
  ["tinyllama", "llama3"],
  ["tinyllama", "gemma3"],
  ["tinyllama", "mistral"],
  ...NAMES.map((name): [Name, Name] => [name, name]),
];

const tokenizers = new Map<Name, LoadedTokenizer>();

beforeAll(async () => {
  for (const name of NAMES) {
    tokenizers.set(name, await loadTokenizer(name));
  }
});

/** Builds a deterministic document of 100,000 UTF-16 units that mixes every kind of text below. */
function longDocument(): string {
  const fragments = [
    "The integral $\\int_0^1 x^2\\,dx = \\frac{1}{3}$ follows. ",
    "def f(x):\n\treturn x ** 2  # square\r\n",
    "家族👨‍👩‍👧‍👦 and 👍🏽 with café́ and ﬁnal １２３. ",
    "    indented     spaces\t\ttabs\n\n\n",
    "Numbers 1234567890 3.14159 2,718 ",
    "<s>literal</s> <|im_start|>user<|endoftext|> ",
  ];
  let text = "";
  let state = 12345;
  while (text.length < 100_000) {
    // Linear congruential steps pick fragments in a fixed pseudo-random order.
    state = (state * 1103515245 + 12345) % 2147483648;
    text += fragments[state % fragments.length];
  }
  // Cut at a code-point boundary so the document is well-formed.
  let end = 100_000;
  if (text.charCodeAt(end - 1) >= 0xd800 && text.charCodeAt(end - 1) <= 0xdbff) end--;
  return text.slice(0, end);
}

const TEXTS: Record<string, string> = {
  "emoji first and last": "👨‍👩‍👧‍👦 family, skin tones 👍🏻👍🏿, flags 🏳️‍🌈 🇯🇵 end 🧑🏽‍💻",
  emoji: "Start 😀 middle 👩🏽‍🔬 end",
  cjk: "中文字符与日本語のテキスト、한국어 텍스트。",
  "combining accents": "cafe\u0301 nai\u0308ve a\u0300\u0301\u0302 Z\u0335\u0321a\u0336l\u0337g\u0338o",
  "nfkc-sensitive": "ﬁnance ﬂow ﬀ １２３ ４５６ Ⅻ ㎏ ｶﾀｶﾅ",
  whitespace: "a\tb\t\tc\r\nd\n\n\ne     f\u00a0g\u3000h  ",
  digits: "1 22 333 4444 55555 666666 7777777 3.14159265358979 1,000,000",
  latex: "\\begin{align} e^{i\\pi} + 1 &= 0 \\\\ \\sum_{k=1}^{n} k &= \\frac{n(n+1)}{2} \\end{align}",
  code: 'function add(a, b) {\n  return a + b; // sum\n}\nconst s = [x, y].join(`-`);\n\tif (x != null) { throw new Error("bad"); }',
  "special-token strings":
    "<s> text </s> more <|im_start|>system<|im_end|> and <|endoftext|> <|begin_of_text|><bos><eos>",
  "leading spaces": "   three spaces first",
  "literal metaspace": "▁the ▁▁ spaced ▁",
  empty: "",
  "whitespace only": " \t\n \r\n  ",
  "long document": longDocument(),
};

const encodedCache = new Map<string, EncodedDocument>();

async function encode(name: Name, text: string): Promise<EncodedDocument> {
  const key = `${name}\u0000${text}`;
  let doc = encodedCache.get(key);
  if (doc === undefined) {
    doc = await tokenizers.get(name)!.encode(text);
    if (text.length < 10_000) encodedCache.set(key, doc);
  }
  return doc;
}

/** Bytes that a token stands for in the text, read from its vocabulary string. */
function tokenBytes(tokenizer: LoadedTokenizer, id: number): Uint8Array {
  const token = tokenizer.tokenString(id) ?? "";
  const byte = /^<0x([0-9A-F]{2})>$/.exec(token);
  if (byte !== null && tokenizer.traits.byteFallback) return Uint8Array.of(Number.parseInt(byte[1], 16));
  if (tokenizer.traits.byteLevel) return byteLevelTokenToBytes(token) ?? Buffer.from(token);
  return Buffer.from(tokenizer.traits.spaceReplacement === null ? token : token.replaceAll("▁", " "));
}

/** Checks that content spans tile the text and returns a failure message or null. */
function spanCoverageProblem(tokenizer: LoadedTokenizer, text: string, doc: EncodedDocument): string | null {
  const byteLength = Buffer.byteLength(text);
  if (doc.byteLength !== byteLength) return `byteLength ${doc.byteLength} != ${byteLength}`;
  let cursor = 0;
  for (let k = 0; k < doc.ids.length; k++) {
    const start = doc.spans[2 * k];
    const end = doc.spans[2 * k + 1];
    if (doc.special[k] === 1) {
      if (start !== end) return `special token ${k} has non-empty span [${start}, ${end})`;
      continue;
    }
    if (start !== cursor) return `token ${k} starts at ${start}, expected ${cursor}`;
    if (end < start) return `token ${k} ends before it starts`;
    if (
      start === end &&
      !(tokenizer.traits.dummyPrefix !== null && tokenizer.tokenString(doc.ids[k]) === "▁")
    ) {
      return `token ${k} ${JSON.stringify(tokenizer.tokenString(doc.ids[k]))} has an empty span but is not a dummy prefix`;
    }
    cursor = end;
  }
  if (cursor !== byteLength && doc.ids.length > 0)
    return `content spans end at ${cursor}, text at ${byteLength}`;
  return null;
}

/** Checks that each token's bytes in the text are the bytes its vocabulary string stands for. */
function tokenBytesProblem(tokenizer: LoadedTokenizer, text: string, doc: EncodedDocument): string | null {
  const textBytes = Buffer.from(text);
  for (let k = 0; k < doc.ids.length; k++) {
    let expected = Buffer.from(tokenBytes(tokenizer, doc.ids[k]));
    const actual = textBytes.subarray(doc.spans[2 * k], doc.spans[2 * k + 1]);
    if (
      tokenizer.traits.dummyPrefix !== null &&
      doc.spans[2 * k] === 0 &&
      expected[0] === 0x20 &&
      k === firstContent(doc)
    ) {
      expected = expected.subarray(1); // the dummy-prefix space is not in the text
    }
    if (!expected.equals(actual)) {
      return `token ${k} ${JSON.stringify(tokenizer.tokenString(doc.ids[k]))} covers ${JSON.stringify(actual.toString())}`;
    }
  }
  return null;
}

function firstContent(doc: EncodedDocument): number {
  return doc.special.indexOf(0);
}

/** Tells whether every normalizer in use leaves the text unchanged, so token bytes equal text bytes. */
function bytesComparable(name: Name, text: string): boolean {
  if (name === "qwen" && text.normalize("NFC") !== text) return false;
  // A literal ▁ and a space are the same piece to SentencePiece-style tokenizers.
  if (name !== "qwen" && name !== "llama3" && text.includes("▁")) return false;
  return true;
}

function ranges(alignment: TokenAlignment): Array<[number, number] | null> {
  return Array.from(alignment.teacherStart, (start, i) =>
    start === alignment.teacherEnd[i] ? null : [start, alignment.teacherEnd[i]],
  );
}

/** Checks every alignment property of one pair on one text; returns a failure message or null. */
function alignmentProblem(student: EncodedDocument, teacher: EncodedDocument, self: boolean): string | null {
  const alignment = alignTokens(student.spans, teacher.spans);
  const fast = ranges(alignment);
  // The O(N·M) reference takes minutes on the long document; there the edge checks below decide.
  if (student.ids.length * teacher.ids.length < 10_000_000) {
    const slow = ranges(bruteForceAlignment(student.spans, teacher.spans));
    for (let i = 0; i < fast.length; i++) {
      if (JSON.stringify(fast[i]) !== JSON.stringify(slow[i])) {
        return `student token ${i}: range ${JSON.stringify(fast[i])}, brute force ${JSON.stringify(slow[i])}`;
      }
    }
  }
  const overlaps = (i: number, j: number) => {
    const [a, b, c, d] = [
      student.spans[2 * i],
      student.spans[2 * i + 1],
      teacher.spans[2 * j],
      teacher.spans[2 * j + 1],
    ];
    return a < b && c < d && c < b && a < d;
  };
  const covered = new Uint8Array(teacher.ids.length);
  let previous: [number, number] | null = null;
  for (let i = 0; i < fast.length; i++) {
    const a = student.spans[2 * i];
    const b = student.spans[2 * i + 1];
    const range = fast[i];
    if (a === b) {
      if (range !== null) return `empty student token ${i} is mapped`;
      continue;
    }
    if (range === null)
      return `student token ${i} [${a}, ${b}) is unmapped although the teacher covers the text`;
    const [j0, j1] = range;
    if (teacher.spans[2 * j0] > a || teacher.spans[2 * (j1 - 1) + 1] < b) {
      return `student token ${i} [${a}, ${b}) is not covered by teacher tokens ${j0}..${j1}`;
    }
    // Minimal: the range starts and ends with overlapping tokens, and its neighbours overlap nothing.
    if (!overlaps(i, j0) || !overlaps(i, j1 - 1))
      return `range of student token ${i} has a non-overlapping edge`;
    if ((j0 > 0 && overlaps(i, j0 - 1)) || (j1 < teacher.ids.length && overlaps(i, j1))) {
      return `range of student token ${i} misses an overlapping teacher token`;
    }
    if (previous !== null && (j0 < previous[0] || j1 < previous[1]))
      return `range of student token ${i} goes back`;
    if (self && (j0 !== i || j1 !== i + 1)) return `self-alignment of token ${i} is [${j0}, ${j1})`;
    covered.fill(1, j0, j1);
    previous = range;
  }
  for (let j = 0; j < teacher.ids.length; j++) {
    if (teacher.spans[2 * j] < teacher.spans[2 * j + 1] && covered[j] === 0) {
      return `teacher token ${j} lies in no student range`;
    }
  }
  return null;
}

describe("token spans", () => {
  for (const name of NAMES) {
    for (const [label, text] of Object.entries(TEXTS)) {
      it(`${name} tiles ${label}`, async () => {
        const tokenizer = tokenizers.get(name)!;
        const doc = await encode(name, text);
        expect(spanCoverageProblem(tokenizer, text, doc)).toBeNull();
        if (bytesComparable(name, text)) {
          expect(tokenBytesProblem(tokenizer, text, doc)).toBeNull();
        }
      });
    }
  }

  it("slice back to the text as substrings", async () => {
    // Byte pieces of one character are joined until a span ends on a character
    // boundary; each group is then a substring found through UTF-16 offsets.
    const text = TEXTS["emoji first and last"] + TEXTS.cjk + TEXTS["combining accents"];
    for (const name of NAMES) {
      const doc = await encode(name, text);
      const bytes = Buffer.from(text);
      const substrings: string[] = [];
      let groupStart = 0;
      for (let k = 0; k < doc.ids.length; k++) {
        const end = doc.spans[2 * k + 1];
        const onBoundary = end === bytes.length || (bytes[end] & 0xc0) !== 0x80;
        if (doc.special[k] === 0 && onBoundary && end > groupStart) {
          substrings.push(sliceUtf8Span(text, groupStart, end));
          groupStart = end;
        }
      }
      expect(substrings.join(""), name).toBe(text);
    }
  });

  it("are deterministic", async () => {
    for (const name of NAMES) {
      const tokenizer = tokenizers.get(name)!;
      const first = await tokenizer.encode(TEXTS.code + TEXTS.emoji);
      const second = await tokenizer.encode(TEXTS.code + TEXTS.emoji);
      expect(Array.from(second.ids), name).toEqual(Array.from(first.ids));
      expect(Array.from(second.spans), name).toEqual(Array.from(first.spans));
    }
  });
});

describe("alignment of real tokenizers", () => {
  for (const [studentName, teacherName] of PAIRS) {
    const self = studentName === teacherName;
    for (const [label, text] of Object.entries(TEXTS)) {
      it(`${studentName} to ${teacherName} on ${label}`, async () => {
        const student = await encode(studentName, text);
        const teacher = await encode(teacherName, text);
        expect(alignmentProblem(student, teacher, self)).toBeNull();
      });
    }
  }

  it("ignores BOS and EOS on either side", async () => {
    for (const [studentName, teacherName] of PAIRS) {
      const text = TEXTS["emoji first and last"] + TEXTS.code;
      const student = await encode(studentName, text);
      const teacher = await encode(teacherName, text);
      const plain = ranges(alignTokens(student.spans, teacher.spans));

      const studentWith = addBosEos(student, tokenizers.get(studentName)!.identity);
      const studentShift =
        studentWith.ids.length > student.ids.length && studentWith.special[0] === 1 ? 1 : 0;
      const withStudentMarkers = ranges(alignTokens(studentWith.spans, teacher.spans));
      expect(withStudentMarkers.slice(studentShift, studentShift + plain.length)).toEqual(plain);
      for (let i = 0; i < studentWith.ids.length; i++) {
        if (studentWith.special[i] === 1) expect(withStudentMarkers[i]).toBeNull();
      }

      const teacherWith = addBosEos(teacher, tokenizers.get(teacherName)!.identity);
      const teacherShift = tokenizers.get(teacherName)!.identity.bosId === null ? 0 : 1;
      const withTeacherMarkers = ranges(alignTokens(student.spans, teacherWith.spans));
      expect(withTeacherMarkers).toEqual(
        plain.map((r) => (r === null ? null : [r[0] + teacherShift, r[1] + teacherShift])),
      );
    }
  });
});

describe("random Unicode text", () => {
  // Pieces that stress spans: any code point (astral included), combining marks,
  // whitespace kinds, emoji modifiers and joiners, and special-token strings.
  const piece = fc.oneof(
    fc.string({ unit: "binary", minLength: 1, maxLength: 4 }),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 4 }),
    fc.constantFrom("\u0301", "\u0308", "\u0323", "\u20dd", "\u200d", "\ufe0f", "\u{1f3fd}"),
    fc.constantFrom(" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "▁"),
    fc.constantFrom("e", "the", "ﬁ", "１", "😀", "👩", "中", "<s>", "</s>", "<|im_start|>", "<|endoftext|>"),
  );
  const text = fc.array(piece, { maxLength: 24 }).map((pieces) => pieces.join(""));

  it("keeps every span and alignment property", async () => {
    await fc.assert(
      fc.asyncProperty(text, async (sample) => {
        const docs = new Map<Name, EncodedDocument>();
        for (const name of NAMES) {
          const doc = await tokenizers.get(name)!.encode(sample);
          expect(
            spanCoverageProblem(tokenizers.get(name)!, sample, doc),
            `${name} on ${JSON.stringify(sample)}`,
          ).toBeNull();
          docs.set(name, doc);
        }
        for (const [studentName, teacherName] of PAIRS) {
          const problem = alignmentProblem(
            docs.get(studentName)!,
            docs.get(teacherName)!,
            studentName === teacherName,
          );
          expect(problem, `${studentName} to ${teacherName} on ${JSON.stringify(sample)}`).toBeNull();
        }
      }),
      { numRuns: 150, seed: 20_250_101 },
    );
  });
});
