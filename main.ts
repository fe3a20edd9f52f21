import { parseArgs } from 'node:util';
import { buildRole } from './cluster/roles.js';
import { buildGridPatrol } from './gridpatrol.js';
import { isDataFolderFault, waitForDataDir } from './lib/data-dir.js';
import { loadConfig, settingsHelp } from './lib/config.js';
import { createLogger, createTerminalLogger } from './lib/logger.js';
import { EXIT_RETRY, supervise, type SupervisedMessage } from './lib/supervisor.js';

const USAGE = `gridpatrol: MQTT broker, ingest pipeline and HTTP API in one process, or one role of a split deployment

Usage: npm start [-- --help]                  (runs: node dist/main.mjs --supervise)
       tsx main.ts [--supervise] [all|broker|ingest|api]    (the role wins over GRIDPATROL_ROLE)

  --supervise   run GridPatrol in a child process and start it again if it dies
                (a signal such as SIGBUS, or an error exit after it had started)
  --restarted   (the supervisor adds it when it starts GridPatrol again) wait for a data
                folder that cannot be written instead of exiting
`;
const ROLES = ['all', 'broker', 'ingest', 'api'];

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, supervise: { type: 'boolean' }, restarted: { type: 'boolean' } }, strict: true, allowPositionals: true });
  if (values.help) {
    process.stdout.write(`${USAGE}\n${settingsHelp()}\n`);
    return;
  }
  const role = positionals[0];
  if (positionals.length > 1 || (role !== undefined && !ROLES.includes(role))) {
    process.stderr.write(`gridpatrol: unknown role ${JSON.stringify(positionals.join(' '))}: expected one of ${ROLES.join(', ')}\n`);
    process.exit(2);
  }
  const loaded = loadConfig(role ? { ...process.env, GRIDPATROL_ROLE: role } : process.env);
  if (!loaded.ok) {
    for (const line of loaded.errors) process.stderr.write(`gridpatrol: ${line}\n`);
    process.exit(2);
  }
  const { config } = loaded;
  const log = process.stdout.isTTY ? createTerminalLogger(config.logLevel) : createLogger(config.logLevel);
  if (values.supervise) {
    const args = process.argv.slice(2).filter((a) => a !== '--supervise');
    const supervisor = supervise({ command: process.execPath, args: [...process.execArgv, process.argv[1]!, ...args], restartArgs: ['--restarted'], log });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => supervisor.stop(signal));
    const code = await supervisor.exited;
    log.flush();
    process.exit(code);
  }
  // a supervisor that is gone (kill -9) cannot stop us or start us again: stop (cleanly, once started)
  let supervisorGone: () => void = () => process.exit(0);
  process.on('disconnect', () => supervisorGone());
  // started again by the supervisor after a crash: a data folder still read-only is waited for
  if (values.restarted) await waitForDataDir(config.dataDir, log);
  let gp;
  try {
    gp = config.role === 'all' ? await buildGridPatrol(config, log) : await buildRole(config, log);
  } catch (err) {
    process.stderr.write(`gridpatrol: ${(err as Error).message}\n`);
    process.exit(values.restarted && isDataFolderFault(err, config.dataDir) ? EXIT_RETRY : 2);
  }
  if (gp.adminToken.generated)
    process.stdout.write(`gridpatrol: admin token (shown once, kept in ${gp.adminToken.file}):\n  ${gp.adminToken.token}\n`);
  let ports;
  try {
    ports = await gp.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
    if (values.restarted && isDataFolderFault(err, config.dataDir)) {
      process.stderr.write(`gridpatrol: ${e.message}\n`);
      process.exit(EXIT_RETRY);
    }
    // not a listener's error (e.g. GRIDPATROL_REDIS_URL does not answer): its message names the setting
    if (e.port === undefined && e.syscall === undefined) {
      process.stderr.write(`gridpatrol: ${e.message}\n`);
      process.exit(2);
    }
    const where = e.port !== undefined ? ` ${e.address ?? config.host}:${e.port}` : '';
    process.stderr.write(`gridpatrol: cannot listen${where}: ${e.code ?? ''} ${e.message} (check GRIDPATROL_HOST and the *_PORT settings)\n`);
    process.exit(2);
  }
  log.info({ ...ports, pid: process.pid, host: config.host, store: config.store.type, dataDir: config.dataDir, ...(config.role !== 'all' && { role: config.role }) }, 'gridpatrol listening');
  process.send?.({ type: 'listening' } satisfies SupervisedMessage);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    await gp.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  supervisorGone = () => void stop('supervisor gone');
}

main().catch((err) => {
  process.stderr.write(`gridpatrol: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
