import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization', '*.headers.authorization', 'req.headers.authorization', 'secret', '*.secret'];

/** The root logger. Components take a child bound once: `log.child({ component: 'spool' })`. */
export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'gridpatrol' }, redact: REDACT }, destination);
}

/** For `npm start` at a terminal: the same records, human-readable (pino-pretty in a worker thread). */
export function createTerminalLogger(level: string = 'info'): Logger {
  return pino({ level, base: { service: 'gridpatrol' }, redact: REDACT, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
