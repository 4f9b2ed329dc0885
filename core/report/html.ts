import { escapeHtml, histogramChart, type LineSeries, lineChart } from "./charts.ts";
import type { RunReport, VariantSection } from "./types.ts";

/** Line colors by variant; other variants take the fallback colors in order. */
const VARIANT_COLORS: Record<string, string> = { guided: "#1f77b4", baseline: "#d62728" };
const FALLBACK_COLORS = ["#2ca02c", "#9467bd", "#8c564b"];

function variantColor(variant: string, index: number): string {
  return VARIANT_COLORS[variant] ?? FALLBACK_COLORS[index % FALLBACK_COLORS.length];
}

function formatNumber(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return Number(value.toPrecision(digits)).toLocaleString("en-US", { maximumSignificantDigits: digits });
}

function formatShare(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(2)}%`;
}

function table(headers: string[], rows: string[][], className = ""): string {
  const head = headers.map((header) => `<th>${escapeHtml(header)}</th>`).join("");
  const body = rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`)
    .join("");
  return `<table class="${className}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function keyValues(rows: Array<[string, string]>): string {
  return `<table class="kv"><tbody>${rows
    .map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`)
    .join("")}</tbody></table>`;
}

function summarySection(report: RunReport): string {
  const byVariant = new Map(report.variants.map((variant) => [variant.variant, variant]));
  const rows = report.variants.map((variant) => [
    variant.variant,
    formatNumber(variant.heldOutLoss),
    variant.heldOutLoss === null ? "–" : formatNumber(Math.exp(variant.heldOutLoss)),
    formatNumber(variant.finalStep),
  ]);
  const difference =
    report.guidedMinusBaselineLoss === null
      ? ""
      : `<p class="difference">Guided minus baseline held-out loss: <strong>${escapeHtml(formatNumber(report.guidedMinusBaselineLoss))}</strong> nats per token (${report.guidedMinusBaselineLoss < 0 ? "guidance helped" : "guidance did not help"}; ${escapeHtml(formatShare(report.guidedMinusBaselineLoss / (byVariant.get("baseline")?.heldOutLoss ?? Number.NaN)))} of the baseline loss).</p>`;
  return `<section id="summary"><h2>Held-out loss</h2>${
    rows.length === 0
      ? "<p>No variant finished training.</p>"
      : table(["variant", "held-out loss (nats/token)", "perplexity", "steps"], rows, "summary")
  }${difference}</section>`;
}

function failureSection(report: RunReport): string {
  if (report.failure === null) return "";
  const { step, error, cause } = report.failure;
  return `<section id="failure" class="failure"><h2>Failure</h2>${keyValues([
    ["failed step", step ?? "unknown"],
    ["error", error ?? "unknown"],
  ])}<pre>${escapeHtml(cause ?? "no cause recorded")}</pre></section>`;
}

function corpusSection(report: RunReport): string {
  const { corpus } = report;
  const overlap = corpus.vocabularyOverlap;
  const rows: Array<[string, string]> = [
    [
      "work items (train / held-out)",
      `${formatNumber(corpus.items)} (${formatNumber(corpus.trainItems)} / ${formatNumber(corpus.evalItems)})`,
    ],
    ["records", formatNumber(corpus.records)],
    ["documents prepared", formatNumber(corpus.documents)],
    ["student tokens", formatNumber(corpus.studentTokens)],
    ["teacher tokens", formatNumber(corpus.teacherTokens)],
    [
      "unmapped student tokens",
      `${formatNumber(corpus.unmappedStudentTokens)} (${formatShare(corpus.unmappedShare)})`,
    ],
    [
      "teacher tokens per mapped student token",
      `${formatNumber(corpus.teacherTokensPerStudentToken)} (a teacher token under several student tokens counts for each)`,
    ],
    ["exact one-to-one matches", formatShare(corpus.exactMatchShare)],
    ["student tokenizer", corpus.studentTokenizer ?? "–"],
    ["teacher tokenizer", corpus.teacherTokenizer ?? "–"],
  ];
  if (overlap !== null) {
    for (const [label, counts] of [
      ["vocabulary overlap by text", overlap.text],
      ["vocabulary overlap as written", overlap.raw],
    ] as const) {
      rows.push([
        label,
        `${formatNumber(counts.sharedEntries)} entries: ${formatShare(counts.shareOfStudent)} of the student's ${formatNumber(counts.studentEntries)}, ${formatShare(counts.shareOfTeacher)} of the teacher's ${formatNumber(counts.teacherEntries)}`,
      ]);
    }
  }
  return `<section id="corpus"><h2>Corpus and alignment</h2>${keyValues(rows)}</section>`;
}

function teacherSection(report: RunReport): string {
  const teacher = report.teacherLoss;
  if (teacher === null)
    return `<section id="teacher"><h2>Teacher losses</h2><p>No teacher scores were written.</p></section>`;
  const sampled =
    teacher.itemsRead < teacher.itemsTotal
      ? ` (an even sample of ${teacher.itemsRead} of ${teacher.itemsTotal} items)`
      : "";
  const rows: Array<[string, string]> = [
    ["scored teacher tokens", `${formatNumber(teacher.scoredTeacherTokens)}${sampled}`],
    ["tokens without a loss (NaN)", formatNumber(teacher.undefinedTeacherTokens)],
    ["mean (nats)", formatNumber(teacher.meanNats)],
    [
      "10th / 50th / 90th percentile (nats)",
      teacher.quantilesNats === null
        ? "–"
        : `${formatNumber(teacher.quantilesNats.p10)} / ${formatNumber(teacher.quantilesNats.p50)} / ${formatNumber(teacher.quantilesNats.p90)}`,
    ],
    ["aggregation to student tokens", teacher.aggregation ?? "–"],
  ];
  return `<section id="teacher"><h2>Teacher losses</h2>${keyValues(rows)}<div class="charts">${histogramChart(
    "teacher-loss-histogram",
    "Teacher loss per teacher token",
    "nats",
    teacher.histogram,
    "#2ca02c",
  )}${histogramChart(
    "student-teacher-loss-histogram",
    `Teacher loss per student token (${teacher.aggregation ?? "aggregated"})`,
    "nats",
    teacher.studentHistogram,
    "#9467bd",
  )}</div></section>`;
}

function trainingSeries(variants: readonly VariantSection[]): { train: LineSeries[]; heldOut: LineSeries[] } {
  const train: LineSeries[] = [];
  const heldOut: LineSeries[] = [];
  variants.forEach((variant, index) => {
    const color = variantColor(variant.variant, index);
    // The guided loss averages only the kept tokens, so the comparable training curve is the plain cross-entropy.
    train.push({
      name: `${variant.variant} cross-entropy`,
      color,
      points: variant.points.map((point) => [point.step, point.crossEntropy ?? point.loss] as const),
    });
    heldOut.push({
      name: `${variant.variant} held-out`,
      color,
      markers: true,
      points: variant.evalPoints.map((point) => [point.step, point.loss] as const),
    });
  });
  return { train, heldOut };
}

function trainingSection(report: RunReport): string {
  if (report.variants.length === 0) {
    return `<section id="training"><h2>Training</h2><p>No variant started training.</p></section>`;
  }
  const { train, heldOut } = trainingSeries(report.variants);
  const rows = report.variants.map((variant) => {
    const last = variant.points.at(-1);
    // The baseline reads no teacher scores, so its excess and teacher coverage do not apply.
    const guided = variant.variant !== "baseline";
    return [
      variant.variant,
      formatNumber(variant.finalStep),
      formatNumber(last?.loss),
      formatNumber(last?.crossEntropy),
      formatShare(last?.keptShare),
      guided ? formatNumber(last?.meanExcess) : "–",
      guided ? formatShare(last?.teacherCoverage) : "–",
      formatNumber(variant.meanTokensPerSecond, 3),
    ];
  });
  return `<section id="training"><h2>Training</h2><div class="charts">${lineChart(
    "training-curves",
    "Training cross-entropy per token",
    "step",
    "nats per token",
    train,
  )}${lineChart("heldout-curves", "Held-out loss during training", "step", "nats per token", heldOut)}</div>${table(
    [
      "variant",
      "last step",
      "loss",
      "cross-entropy",
      "kept share",
      "mean excess",
      "teacher coverage",
      "tokens/s",
    ],
    rows,
  )}</section>`;
}

function stagesSection(report: RunReport): string {
  if (report.stages.length === 0) {
    return `<section id="stages"><h2>Stages</h2><p>Stage timings are not recorded for this run.</p></section>`;
  }
  const rows = report.stages.map((stage) => [
    stage.stage,
    stage.status,
    stage.seconds.toFixed(1),
    stage.tokens === null ? "–" : `${formatNumber(stage.tokens)} ${stage.tokenKind ?? ""}`.trim(),
    formatNumber(stage.tokensPerSecond, 3),
  ]);
  const total = report.stages.reduce((sum, stage) => sum + stage.seconds, 0);
  rows.push(["total", "", total.toFixed(1), "", ""]);
  // NOTE: a resumed run's steps skip finished work, so dividing the run's tokens by their time overstates the rate.
  return `<section id="stages"><h2>Stages</h2>${table(["stage", "status", "seconds", "tokens", "tokens/s"], rows)}<p class="meta">Rates divide the run's token counts by each stage's time. In a resumed run, a stage that found its outputs skipped the work, so its rate is too high.</p></section>`;
}

function rejectsSection(report: RunReport): string {
  const { rejects } = report;
  const reasons = Object.entries(rejects.byReason).map(([reason, count]) => [reason, formatNumber(count)]);
  const samples =
    rejects.samples.length === 0
      ? ""
      : table(
          ["item", "reason", "message"],
          rejects.samples.map((sample) => [sample.item, sample.reason, sample.message]),
        );
  return `<section id="rejects"><h2>Rejected records</h2>${keyValues([
    ["rejected records", formatNumber(rejects.total)],
    ["share of records", formatShare(rejects.share)],
    ["threshold", formatShare(rejects.threshold)],
  ])}${reasons.length === 0 ? "" : table(["reason", "count"], reasons)}${samples}</section>`;
}

function problemsSection(report: RunReport): string {
  if (report.readProblems.length === 0) return "";
  const items = report.readProblems.map((problem) => `<li>${escapeHtml(problem)}</li>`).join("");
  return `<section id="read-problems"><h2>Files the report could not read</h2><ul>${items}</ul></section>`;
}

function experimentSection(report: RunReport): string {
  if (report.experiment === null || report.experiment === undefined) return "";
  return `<section id="experiment"><h2>Experiment</h2><details><summary>The frozen experiment</summary><pre>${escapeHtml(
    JSON.stringify(report.experiment, null, 2),
  )}</pre></details></section>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1340px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 28px; }
.status { display: inline-block; padding: 2px 10px; border-radius: 10px; color: #fff; font-weight: 600; }
.status.SUCCEEDED { background: #2a7d2a; } .status.FAILED { background: #b22222; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
thead th { background: #f4f4f4; } table.kv th { background: #fafafa; font-weight: 500; width: 300px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; } svg.chart { width: 640px; max-width: 100%; height: auto; border: 1px solid #eee; }
.chart-title { font-size: 14px; font-weight: 600; } .tick, .legend { font-size: 11px; fill: #444; } .axis-label { font-size: 12px; fill: #333; }
.grid { stroke: #eee; } .axis { stroke: #888; } .empty { fill: #999; }
.failure pre { background: #fff3f3; border: 1px solid #f0c0c0; padding: 8px; white-space: pre-wrap; }
pre { background: #f7f7f7; padding: 8px; overflow: auto; } .meta { color: #666; }
`;

/**
 * Renders a report as one self-contained HTML page: inline CSS and SVG
 * charts, no scripts and nothing fetched at view time.
 */
export function renderReportHtml(report: RunReport): string {
  const title = `vocagno run ${report.runId}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)} <span class="status ${report.status}">${report.status}</span></h1>
<p class="meta">Experiment ${escapeHtml(report.name ?? "unknown")} · report written ${escapeHtml(report.generatedAt)}</p>
${failureSection(report)}
${summarySection(report)}
${trainingSection(report)}
${teacherSection(report)}
${corpusSection(report)}
${stagesSection(report)}
${rejectsSection(report)}
${problemsSection(report)}
${experimentSection(report)}
</body>
</html>
`;
}
