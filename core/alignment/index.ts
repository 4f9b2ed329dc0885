export { alignTokens, alignTokensInto, type TokenAlignment } from "./align.ts";
export {
  type AlignmentStats,
  type AlignmentSummary,
  computeAlignmentStats,
  EMPTY_ALIGNMENT_STATS,
  mergeAlignmentStats,
  summarizeAlignmentStats,
} from "./stats.ts";
