import pino, { type Logger } from 'pino';

export type { Logger };

/** The root logger. Components take a child bound once: `log.child({ component: 'spool' })`. */
export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'gridpatrol' }, redact: ['password', '*.password', 'token', '*.token'] }, destination);
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
