import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildReport } from "./index.ts";
import { STAGE_TIMINGS, writeFinishedRun } from "./testing/run-fixture.ts";

/** Debian's Chromium (`apt-get install chromium`); VOCAGNO_CHROMIUM points at another build. */
const CHROMIUM = process.env.VOCAGNO_CHROMIUM ?? "/usr/bin/chromium";
/** Where the screenshot goes, for a person to look at; VOCAGNO_REPORT_SCREENSHOT overrides it. */
const SCREENSHOT =
  process.env.VOCAGNO_REPORT_SCREENSHOT ?? path.join(os.tmpdir(), "vocagno-report-screenshot.png");

describe("report.html in headless Chromium", () => {
  let run: Awaited<ReturnType<typeof writeFinishedRun>>;
  let userDataDir: string;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is missing at ${CHROMIUM}: install it with apt-get install -y chromium, or set VOCAGNO_CHROMIUM`,
      );
    }
    run = await writeFinishedRun();
    const { htmlUri } = await buildReport(run.runUri, { status: "SUCCEEDED", stageTimings: STAGE_TIMINGS });
    userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), "vocagno-chromium-"));
    // A fresh profile folder per run; Playwright takes it as launchPersistentContext's first argument.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      viewport: { width: 1360, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(error.message));
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(htmlUri, { waitUntil: "load" });
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir) await fs.rm(userDataDir, { recursive: true, force: true });
    await run?.remove();
  });

  it("loads without console errors or other requests", () => {
    expect(consoleErrors).toEqual([]);
    // A self-contained page fetches only itself.
    expect(requests.filter((url) => !url.endsWith("report.html"))).toEqual([]);
  });

  it("draws one training curve per variant", async () => {
    const series = await page.$$eval("svg#training-curves path.series", (paths) =>
      paths.map((element) => ({
        name: element.getAttribute("data-series"),
        points: (element.getAttribute("d") ?? "").split(/[ML]/).filter((part: string) => part.trim() !== "")
          .length,
      })),
    );
    // The fixture's metrics.jsonl has 6 training lines per variant.
    expect(series).toEqual([
      { name: "guided cross-entropy", points: 6 },
      { name: "baseline cross-entropy", points: 6 },
    ]);
    expect(await page.textContent("svg#training-curves title")).toBe("Training cross-entropy per token");
  });

  it("marks the held-out evaluations", async () => {
    // Three held-out evaluations per variant (steps 10, 20 and 30).
    expect(
      await page.locator('svg#heldout-curves circle.marker[data-series="guided held-out"]').count(),
    ).toBe(3);
    expect(
      await page.locator('svg#heldout-curves circle.marker[data-series="baseline held-out"]').count(),
    ).toBe(3);
  });

  it("draws the teacher loss histogram with an overflow bar", async () => {
    // 40 bins of 0.5 nats plus one overflow bar for the loss of 25 nats.
    expect(await page.locator("svg#teacher-loss-histogram rect.bar").count()).toBe(41);
    expect(await page.locator("svg#teacher-loss-histogram rect.bar.overflow").count()).toBe(1);
    const heights = await page.$$eval("svg#teacher-loss-histogram rect.bar", (bars) =>
      bars.map((bar) => Number(bar.getAttribute("height"))),
    );
    expect(heights.filter((height) => height > 0)).toHaveLength(4);
  });

  it("lays the charts out with visible size", async () => {
    for (const id of [
      "training-curves",
      "heldout-curves",
      "teacher-loss-histogram",
      "student-teacher-loss-histogram",
    ]) {
      const box = await page.locator(`svg#${id}`).boundingBox();
      expect(box, id).not.toBeNull();
      expect(box!.width, id).toBeGreaterThan(300);
      expect(box!.height, id).toBeGreaterThan(150);
    }
  });

  it("shows the held-out summary table", async () => {
    const variants = await page.locator("table.summary tbody td:first-child").allTextContents();
    expect(variants).toEqual(["guided", "baseline"]);
    expect(await page.locator("table.summary tbody tr:first-child td:nth-child(2)").textContent()).toBe(
      "6.75",
    );
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
