import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "core/**/*.test.ts",
      "lambdas/**/*.test.ts",
      "infra/**/*.test.ts",
      "bin/**/*.test.ts",
      "batch-image/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores: tokenizer and ONNX tests are CPU-bound, so more workers only thrash.
    maxWorkers: 2,
    pool: "forks",
  },
});
