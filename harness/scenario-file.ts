/**
 * A resolved Scenario written back in the scenario-file shape (the inverse of buildScenario in
 * scenario.ts): report.json keeps it so any run can be repeated from its report.
 */
import type { Raw } from './scenario.js';
import type { ReadySpec, Scenario } from './types.js';

/** A ReadySpec as the scenario file (and --ready) spell it. */
export function readySpecText(spec: ReadySpec): string {
  if (spec.kind === 'line') return 'line';
  if (spec.kind === 'port') return spec.port === null ? 'port' : `port:${spec.port}`;
  return `regex:${spec.pattern}`;
}

/**
 * A resolved Scenario back in the scenario-file shape, every setting explicit: what report.json keeps
 * so the run can be repeated (`portico-harness run` takes it as a file and resolves it to the same
 * Scenario). A raw flood leaves out its size, which its payload decides.
 */
export function scenarioFile(scenario: Scenario): Raw {
  const { size, ...floodButSize } = scenario.flood;
  return {
    name: scenario.name,
    server: [...scenario.server],
    ready: readySpecText(scenario.ready),
    portArg: scenario.portArg,
    flood: scenario.flood.protocol === 'raw' ? { ...floodButSize } : { ...floodButSize, size },
    memoryCapBytes: scenario.memoryCapBytes,
    lockOrder: scenario.lockOrder,
    leakCheck: scenario.leakCheck,
    netns: scenario.netns,
    readyTimeoutMs: scenario.readyTimeoutMs,
    stopSignal: scenario.stopSignal,
    thresholds: { ...scenario.thresholds, acceptExitCodes: [...scenario.thresholds.acceptExitCodes] },
  };
}
