import { join } from 'node:path';
import { SETTINGS, SettingsSchema, toConfig, type Config, type SettingName } from '../core/config.js';
import { redactUrl } from './redact-url.js';

export type ConfigResult = { ok: true; config: Readonly<Config> } | { ok: false; errors: string[] };

/**
 * Reads every GRIDPATROL_* setting from `env`, validates all of them and returns either the frozen
 * config or one line per bad setting (name, value, what is allowed). Empty values count as unset.
 */
export function loadConfig(env: NodeJS.ProcessEnv): ConfigResult {
  const raw: Partial<Record<SettingName, string>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const v = env[name];
    if (v !== undefined && v !== '') raw[name] = v;
  }
  const parsed = SettingsSchema.safeParse(raw);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]) as SettingName;
      const setting = SETTINGS[name];
      return `invalid setting ${name}=${shown(raw[name], setting !== undefined && 'secret' in setting)}: ${issue.message} (${setting?.help ?? ''})`;
    });
    return { ok: false, errors };
  }
  return { ok: true, config: deepFreeze(toConfig(parsed.data, join)) };
}

/**
 * A value as an error line shows it: quoted, or for a secret only its length, and a URL without
 * its user info and query values (a Redis or broker URL may carry a password); the line lands in
 * logs and terminals.
 */
function shown(value: string | undefined, secret: boolean): string {
  if (value === undefined) return '""';
  if (secret) return `(secret, ${value.length} characters)`;
  return JSON.stringify(carriesUrlSecrets(value) ? redactUrl(value) : value);
}

function carriesUrlSecrets(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const u = new URL(value);
  return Boolean(u.username || u.password || u.search || u.hash);
}

/** The `--help` text: every setting with its default and meaning. */
export function settingsHelp(): string {
  const lines = Object.entries(SETTINGS).map(([name, s]) => {
    const def = s.schema.safeParse(undefined);
    const shown = def.success && def.data !== undefined ? ` (default: ${String(def.data)})` : '';
    return `  ${name.padEnd(30)} ${s.help}${shown}`;
  });
  return ['Settings (environment variables):', ...lines].join('\n');
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
