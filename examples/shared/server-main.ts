import { PorticoError } from '../../framework/index.js';
import { helpText, parseArgv, resolveFlags } from './flags.js';
import { readyLine, type ServerPlugin, type StartedServer } from './plugin.js';

/** Where a running process reports its servers: stdout lines (a plain process), or its cluster primary. */
export interface ServerAnnouncer {
  listening(plugin: ServerPlugin, server: StartedServer): void;
  stopped(plugin: ServerPlugin, aborted: number, server: StartedServer): void;
}

/** The contract's stdout lines: `{"event":"listening",...}` when ready, `{"event":"stopped",...}` after the drain. */
export const stdoutAnnouncer: ServerAnnouncer = {
  listening(plugin, server) {
    process.stdout.write(readyLine(plugin.name, server.host, server.port) + '\n');
    if (server.url !== undefined) process.stderr.write(`${plugin.name}: open ${server.url} in a browser\n`);
  },
  stopped(plugin, aborted) {
    process.stdout.write(JSON.stringify({ event: 'stopped', server: plugin.name, aborted }) + '\n');
  },
};

/** What `runServers` hands back once every server started: a way to stop them as a signal would. */
export interface RunningServers {
  readonly servers: readonly { plugin: ServerPlugin; server: StartedServer }[];
  /** Drain every server (once); resolves when all are stopped. */
  stop(): Promise<void>;
}

/**
 * Run several plugins (or one) as a process with the portico server contract: one JSON ready line per
 * server on stdout, SIGTERM/SIGINT → graceful drain → exit 0; a second signal forces exit 130.
 */
export async function runServers(
  starts: readonly { plugin: ServerPlugin; start: () => Promise<StartedServer> }[],
  announcer: ServerAnnouncer = stdoutAnnouncer,
): Promise<RunningServers> {
  const started: { plugin: ServerPlugin; server: StartedServer }[] = [];
  let signalled = false;
  let startupDone = false;
  let stopping: Promise<void> | null = null;
  const stopAll = (): Promise<void> =>
    (stopping ??= Promise.all(
      started.map(async ({ plugin, server }) => {
        const { aborted } = await server.stop();
        announcer.stopped(plugin, aborted, server);
      }),
    ).then(() => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.exitCode = 0;
    }));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      process.stderr.write(`portico: second ${signal}, exiting now\n`);
      process.exit(130);
    }
    signalled = true;
    if (startupDone) void stopAll();
  };
  // Installed before the first ready line: a supervisor may signal the moment it reads it.
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    for (const { plugin, start } of starts) {
      if (signalled) break;
      started.push({ plugin, server: await start() });
    }
  } catch (error) {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await Promise.all(started.map(({ server }) => server.stop()));
    throw error;
  }
  startupDone = true;
  // Ready lines only once every server listens: a supervisor that reads one may rely on the process
  // staying up, so a later server that cannot listen must fail the start before any line is printed.
  for (const { plugin, server } of started) announcer.listening(plugin, server);
  if (signalled) await stopAll();
  return { servers: started, stop: stopAll };
}

/** `main` of a single-server binary: parse argv against the plugin's flags, then run it. */
export async function serverMain(plugin: ServerPlugin, command: string, argv = process.argv.slice(2)): Promise<void> {
  try {
    const { help, raw, spelled } = parseArgv(plugin.flags, argv);
    if (help) {
      process.stdout.write(helpText(command, plugin.summary, plugin.flags, 'Prints {"event":"listening",...} on stdout when ready; SIGTERM or SIGINT drains and exits 0.'));
      return;
    }
    const options = resolveFlags(plugin.flags, raw, spelled);
    plugin.validate?.(options);
    await runServers([{ plugin, start: () => plugin.start(options) }]);
  } catch (error) {
    failAndExit(command, error);
  }
}

export function failAndExit(command: string, error: unknown): never {
  const message = error instanceof PorticoError ? `${error.message} [${error.code}]` : error instanceof Error ? error.message : String(error);
  process.stderr.write(`${command}: ${message}\n`);
  process.exit(error instanceof PorticoError && error.code === 'PORTICO_ERR_CONFIG' ? 2 : 1);
}
