import {
  type Data,
  type DataType,
  Field,
  Float16,
  Int32,
  List,
  makeData,
  Precision,
  type Schema,
  Type,
  Utf8,
} from "apache-arrow";
import { ShardFormatError } from "./errors.ts";

/** Builds a `Utf8` column. */
export function utf8Column(values: readonly string[]): Data<Utf8> {
  const encoder = new TextEncoder();
  const encoded = values.map((value) => encoder.encode(value));
  const valueOffsets = new Int32Array(values.length + 1);
  for (let i = 0; i < encoded.length; i++) valueOffsets[i + 1] = valueOffsets[i] + encoded[i].length;
  const bytes = new Uint8Array(valueOffsets[values.length]);
  for (let i = 0; i < encoded.length; i++) bytes.set(encoded[i], valueOffsets[i]);
  return makeData({ type: new Utf8(), length: values.length, valueOffsets, data: bytes });
}

/** Builds an `Int32` column. */
export function int32Column(values: Int32Array): Data<Int32> {
  return makeData({ type: new Int32(), length: values.length, data: values });
}

function listOffsets(lengths: readonly number[]): Int32Array {
  const offsets = new Int32Array(lengths.length + 1);
  for (let i = 0; i < lengths.length; i++) offsets[i + 1] = offsets[i] + lengths[i];
  return offsets;
}

/** Builds the field of a list column's items, named `item` as pyarrow names it. */
function itemField<T extends DataType>(type: T, nullable: boolean): Field<T> {
  return new Field("item", type, nullable);
}

/**
 * Builds a `List<Int32>` column. `valid`, when given, marks which items are
 * non-null across all lists; the items are then nullable.
 */
export function int32ListColumn(
  lists: readonly Int32Array[],
  valid?: readonly Uint8Array[],
): Data<List<Int32>> {
  const valueOffsets = listOffsets(lists.map((list) => list.length));
  const total = valueOffsets[lists.length];
  const values = new Int32Array(total);
  for (let i = 0; i < lists.length; i++) values.set(lists[i], valueOffsets[i]);

  let nullBitmap: Uint8Array | undefined;
  let nullCount = 0;
  if (valid !== undefined) {
    nullBitmap = new Uint8Array(Math.ceil(total / 8));
    for (let i = 0; i < lists.length; i++) {
      const base = valueOffsets[i];
      for (let k = 0; k < valid[i].length; k++) {
        if (valid[i][k]) nullBitmap[(base + k) >> 3] |= 1 << ((base + k) & 7);
        else nullCount += 1;
      }
    }
  }
  const child = makeData({ type: new Int32(), length: total, data: values, nullBitmap, nullCount });
  const type = new List(itemField(new Int32(), valid !== undefined));
  return makeData({ type, length: lists.length, valueOffsets, child });
}

/** Builds a `List<Float16>` column from binary16 bits. */
export function float16ListColumn(lists: readonly Uint16Array[]): Data<List<Float16>> {
  const valueOffsets = listOffsets(lists.map((list) => list.length));
  const values = new Uint16Array(valueOffsets[lists.length]);
  for (let i = 0; i < lists.length; i++) values.set(lists[i], valueOffsets[i]);
  const child = makeData({ type: new Float16(), length: values.length, data: values });
  return makeData({
    type: new List(itemField(new Float16(), false)),
    length: lists.length,
    valueOffsets,
    child,
  });
}

/** The column types a file may declare, as checked on read. */
export type ColumnKind = "utf8" | "int32" | "list<int32>" | "list<float16>";

function describeType(type: DataType): string {
  return String(type);
}

function isInt32(type: DataType): boolean {
  return type.typeId === Type.Int && (type as Int32).bitWidth === 32 && (type as Int32).isSigned;
}

function isFloat16(type: DataType): boolean {
  return type.typeId === Type.Float && (type as Float16).precision === Precision.HALF;
}

function matchesKind(type: DataType, kind: ColumnKind): boolean {
  switch (kind) {
    case "utf8":
      return type.typeId === Type.Utf8;
    case "int32":
      return isInt32(type);
    case "list<int32>":
      return type.typeId === Type.List && isInt32((type as List).children[0].type);
    case "list<float16>":
      return type.typeId === Type.List && isFloat16((type as List).children[0].type);
  }
}

/** Checks that `schema` has each expected column with its type; extra columns are allowed. */
export function checkColumns(
  uri: string,
  schema: Schema,
  expected: Readonly<Record<string, ColumnKind>>,
): void {
  for (const [name, kind] of Object.entries(expected)) {
    const field = schema.fields.find((candidate) => candidate.name === name);
    if (field === undefined) {
      throw new ShardFormatError("missing_column", uri, `column ${JSON.stringify(name)} is missing`);
    }
    if (!matchesKind(field.type, kind)) {
      throw new ShardFormatError(
        "wrong_column_type",
        uri,
        `column ${JSON.stringify(name)} has type ${describeType(field.type)}, expected ${kind}`,
      );
    }
  }
}

/** Tests bit `index` of an Arrow validity bitmap; a missing bitmap means every value is valid. */
export function isValid(bitmap: Uint8Array | undefined, index: number): boolean {
  if (bitmap === undefined || bitmap.length === 0) return true;
  return ((bitmap[index >> 3] >> (index & 7)) & 1) === 1;
}
