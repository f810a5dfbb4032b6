/**
 * What `portico-harness run` runs, from its arguments: the scenario file (if any; a report.json
 * stands for the scenario it recorded), the flags over it, the defaults under both (buildScenario in
 * scenario.ts), and the report directory, made before anything starts.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { ParsedRunArgs } from './run-flags.js';
import { type Raw, ScenarioError, buildScenario, defaultFlood, isObject } from './scenario.js';
import type { Scenario } from './types.js';

/** A scenario plus where its report goes. */
export interface RunRequest {
  readonly scenario: Scenario;
  readonly reportDir: string;
  /** No live progress line. */
  readonly quiet: boolean;
  /** A line for stderr about where the scenario came from, when that is not plain (a report.json). */
  readonly notice: string | null;
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

/**
 * A report.json stands for the run it records: `provenance.scenario` is that run's resolved scenario
 * in the scenario-file shape, so `run <report.json>` repeats it. Known by its shape: no scenario file
 * has a `provenance` field. null: an ordinary scenario file.
 */
export function scenarioInReport(file: Raw, path: string): Raw | null {
  if (!('provenance' in file)) return null;
  const provenance = file['provenance'];
  if (!isObject(provenance) || !isObject(provenance['scenario'])) {
    throw new ScenarioError(`${path}: has "provenance" as a report.json does, but no provenance.scenario object to run again`);
  }
  return provenance['scenario'];
}

/**
 * A flag for one protocol (--ws-path) given to a flood of another is refused by its name, before the
 * other protocol's client reads the field as its own (or refuses it under the field's name).
 */
function checkProtocolFlags(parsed: ParsedRunArgs, merged: Raw): void {
  const flood = merged['flood'];
  const protocol = isObject(flood) && flood['protocol'] !== undefined ? flood['protocol'] : defaultFlood.protocol;
  for (const { flag, protocol: wanted } of parsed.protocolFlags) {
    if (protocol !== wanted) throw new ScenarioError(`--${flag} is for --protocol ${wanted}; this flood's protocol is ${String(protocol)}`);
  }
}

/** Everything `run` needs, from its arguments: the file (if any), flags over it, defaults under both. */
export async function resolveRunRequest(parsed: ParsedRunArgs): Promise<RunRequest> {
  const path = parsed.scenarioFile;
  const file = path === null ? null : await readScenarioFile(path);
  if (path === null && parsed.overrides['server'] === undefined) {
    throw new ScenarioError('nothing to run: give a scenario file or --server "<command line>" (see portico-harness run --help)');
  }
  const fromReport = file === null || path === null ? null : scenarioInReport(file, path);
  const withFlags = path !== null && Object.keys(parsed.overrides).length > 0;
  const source = path === null ? 'flags' : fromReport !== null ? `${path} (provenance.scenario)` : path;
  const where = withFlags ? `${source} + flags` : source;
  // A report's scenario has its name; the file's own name ("report") says nothing.
  const nameHint = path === null || fromReport !== null ? undefined : basename(path).replace(/\.json$/, '');
  const merged = mergeOverrides(fromReport ?? file ?? {}, parsed.overrides);
  checkProtocolFlags(parsed, merged);
  const scenario = buildScenario(merged, where, nameHint);
  const reportDir = parsed.reportDir ?? `reports/${scenario.name}`;
  if (fromReport !== null && path !== null && resolve(reportDir, 'report.json') === resolve(path)) {
    // The run would end by writing its report over the one it repeats, the one to compare it with.
    throw new ScenarioError(`${path}: this run's report would replace the report it repeats; give --report <dir> (e.g. --report ${reportDir}-again)`);
  }
  // Made now, before the server starts: a report that cannot be written must not cost a run.
  try {
    await mkdir(reportDir, { recursive: true });
  } catch (error) {
    throw new ScenarioError(`--report ${reportDir}: cannot make the report directory (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const notice = fromReport === null ? null : `${path} is a report.json: running the scenario it recorded (provenance.scenario) again${withFlags ? ', with the flags over it' : ''}`;
  return { scenario, reportDir, quiet: parsed.quiet, notice };
}
