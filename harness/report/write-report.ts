/**
 * Writes a run's report to disk: the raw RunReport as JSON (for tools and trend scripts) and the
 * rendered HTML page (for people), side by side in one directory.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { RunReport } from '../types.js';
import { renderHtml } from './html.js';

/** Creates `dir` if needed and writes `report.json` and `report.html` into it; returns their absolute paths. */
export async function writeReport(dir: string, report: RunReport): Promise<{ jsonPath: string; htmlPath: string }> {
  await mkdir(dir, { recursive: true });
  const jsonPath = resolve(dir, 'report.json');
  const htmlPath = resolve(dir, 'report.html');
  // Render first: if rendering throws, no half-written pair is left behind.
  const html = renderHtml(report);
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`, 'utf8');
  await writeFile(htmlPath, html, 'utf8');
  return { jsonPath, htmlPath };
}
