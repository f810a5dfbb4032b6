/**
 * What `portico-harness run` runs, from its arguments: the scenario file (if any), the flags over
 * it, the defaults under both (buildScenario in scenario.ts), and the report directory, made before
 * anything starts.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ParsedRunArgs } from './run-flags.js';
import { type Raw, ScenarioError, buildScenario, isObject } from './scenario.js';
import type { Scenario } from './types.js';

/** A scenario plus where its report goes. */
export interface RunRequest {
  readonly scenario: Scenario;
  readonly reportDir: string;
  /** No live progress line. */
  readonly quiet: boolean;
}

/** Overrides win field by field; nested objects (flood, thresholds) merge, everything else replaces. */
function mergeOverrides(base: Raw, overrides: Raw): Raw {
  const out: Raw = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = out[key];
    out[key] = isObject(value) && isObject(current) ? mergeOverrides(current, value) : value;
  }
  // --memory-cap replaces the file's cap, whichever of the two fields the file used.
  if ('memoryCapBytes' in overrides) delete out['memoryCap'];
  return out;
}

/** Read a scenario file (JSON) with clear errors for a missing file or bad JSON. */
export async function readScenarioFile(path: string): Promise<Raw> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(`cannot read scenario file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(value)) throw new ScenarioError(`${path}: expected a JSON object at the top level`);
  return value;
}

/** Everything `run` needs, from its arguments: the file (if any), flags over it, defaults under both. */
export async function resolveRunRequest(parsed: ParsedRunArgs): Promise<RunRequest> {
  const fileRaw = parsed.scenarioFile === null ? {} : await readScenarioFile(parsed.scenarioFile);
  if (parsed.scenarioFile === null && parsed.overrides['server'] === undefined) {
    throw new ScenarioError('nothing to run: give a scenario file or --server "<command line>" (see portico-harness run --help)');
  }
  const where = parsed.scenarioFile === null ? 'flags' : Object.keys(parsed.overrides).length > 0 ? `${parsed.scenarioFile} + flags` : parsed.scenarioFile;
  const nameHint = parsed.scenarioFile === null ? undefined : basename(parsed.scenarioFile).replace(/\.json$/, '');
  const scenario = buildScenario(mergeOverrides(fileRaw, parsed.overrides), where, nameHint);
  const reportDir = parsed.reportDir ?? `reports/${scenario.name}`;
  // Made now, before the server starts: a report that cannot be written must not cost a run.
  try {
    await mkdir(reportDir, { recursive: true });
  } catch (error) {
    throw new ScenarioError(`--report ${reportDir}: cannot make the report directory (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return { scenario, reportDir, quiet: parsed.quiet };
}
