import { describe, expect, test } from "vitest";
import { chooseHeldOut, splitIntoItems } from "./work-items.ts";

describe("chooseHeldOut", () => {
  test("spreads held-out items evenly", () => {
    // floor((k + 0.5) * 10 / 3) for k = 0, 1, 2 is 1, 5 and 8.
    expect([...chooseHeldOut(10, { heldOutItems: 3 }, "c")]).toEqual([1, 5, 8]);
  });

  test("rounds the share up without float error", () => {
    // 0.07 * 100 is 7.000000000000001 in floating point, which must still give 7 items.
    expect(chooseHeldOut(100, { heldOutShare: 0.07 }, "c").size).toBe(7);
    expect(chooseHeldOut(100, { heldOutShare: 0.001 }, "c").size).toBe(1);
  });

  test("leaves one item for training", () => {
    expect(chooseHeldOut(3, { heldOutItems: 5 }, "c").size).toBe(2);
  });

  test("rejects a one-item corpus", () => {
    expect(() => chooseHeldOut(1, { heldOutShare: 0.5 }, "s3://b/c")).toThrow(/gives 1 work item/);
  });
});

describe("splitIntoItems", () => {
  test("numbers ranges across files", () => {
    const items = splitIntoItems(
      [
        { uri: "a.jsonl", format: "jsonl", records: 3 },
        { uri: "empty.jsonl", format: "jsonl", records: 0 },
        { uri: "b.parquet", format: "parquet", records: 2 },
      ],
      2,
    );

    expect(
      items.map((item) => [item.item, item.source.uri, item.source.startRecord, item.source.endRecord]),
    ).toEqual([
      ["000000", "a.jsonl", 0, 2],
      ["000001", "a.jsonl", 2, 3],
      ["000002", "b.parquet", 0, 2],
    ]);
  });
});
