// Deployment settings: defaults ← EASEL_* environment ← command-line flags, validated once at start-up.
import { resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBatchSize } from './batch-size.js';

export interface EaselConfig {
  port: number;
  host: string;
  /** Model store root: Stable Diffusion models live in `<modelsDir>/stable-diffusion/<name>/`. */
  modelsDir: string;
  /** Outputs, database and user settings. */
  dataDir: string;
  outputsDir: string;
  /** The built UI (ui/dist); absent in some tests. */
  uiDir: string;
  openBrowser: boolean;
  /** --listen: share on the LAN (bind 0.0.0.0 unless --host says otherwise); every other device must sign in. */
  listen: boolean;
  logLevel: string;
  /**
   * EASEL_BATCH_SIZE: images of a job per UNet call; undefined for the execution provider's default (batch-size.ts).
   * Checked here so a bad value stops start-up; the render worker reads it from the environment it inherits.
   */
  batchSize: number | undefined;
}

export class ConfigError extends Error {}

/** The app folder: the repository root, two levels above server/dist or server/src. */
export const appRoot = fileURLToPath(new URL('../../../', import.meta.url));

export const usage = `Usage: ./start.sh [options]
  --port <n>        port to listen on (default 9000; EASEL_PORT)
  --host <addr>     address to listen on (default 127.0.0.1; EASEL_HOST)
  --listen          share on your network: listen on 0.0.0.0, others sign in (EASEL_LISTEN=1)
  --models <dir>    model store root, models in <dir>/stable-diffusion/<name>/ (EASEL_MODELS)
  --data <dir>      outputs, database and settings (EASEL_DATA)
  --no-browser      do not open a browser (EASEL_NO_BROWSER=1)
  --help            show this text
Models (without starting the server; docs/MODELS.md):
  ./start.sh import <checkpoint.safetensors> [--config <folder>] [--name <name>]
  ./start.sh --download [<catalog id>]      (no id: list the catalog)`;

const flags: Record<string, keyof typeof envNames> = {
  '--port': 'port',
  '--host': 'host',
  '--models': 'models',
  '--data': 'data',
};
const envNames = { port: 'EASEL_PORT', host: 'EASEL_HOST', models: 'EASEL_MODELS', data: 'EASEL_DATA' } as const;

export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): EaselConfig {
  const given: Partial<Record<keyof typeof envNames, string>> = {};
  for (const key of Object.keys(envNames) as (keyof typeof envNames)[]) {
    const value = env[envNames[key]];
    if (value !== undefined && value !== '') given[key] = value;
  }
  let openBrowser = !isTruthy(env.EASEL_NO_BROWSER);
  let listen = isTruthy(env.EASEL_LISTEN);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '--no-browser') {
      openBrowser = false;
      continue;
    }
    if (name === '--listen') {
      listen = true;
      continue;
    }
    const key = flags[name];
    if (!key) throw new ConfigError(`unknown option ${name}\n${usage}`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new ConfigError(`${name} needs a value\n${usage}`);
    given[key] = value;
  }

  const port = Number(given.port ?? 9000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`port must be a whole number from 0 to 65535, got "${given.port}"`);
  }
  const dataDir = resolve(cwd, given.data ?? join(appRoot, 'data'));
  let batchSize: number | undefined;
  try {
    batchSize = parseBatchSize(env.EASEL_BATCH_SIZE);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return {
    port,
    host: given.host ?? (listen ? '0.0.0.0' : '127.0.0.1'),
    modelsDir: resolve(cwd, given.models ?? join(appRoot, 'models')),
    dataDir,
    outputsDir: join(dataDir, 'outputs'),
    uiDir: join(appRoot, 'ui', 'dist'),
    openBrowser,
    listen,
    logLevel: env.EASEL_LOG_LEVEL ?? 'warn',
    batchSize,
  };
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && !['', '0', 'false', 'no'].includes(value.toLowerCase());
}
