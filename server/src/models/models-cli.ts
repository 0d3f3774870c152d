// The model tool behind `./start.sh import …` and `./start.sh --download …`: imports a checkpoint or installs a catalog
// model from the terminal, with a progress bar, without starting the server.
//   node server/dist/models/models-cli.js import <checkpoint.safetensors | diffusers-folder> [--config DIR] [--name NAME] [--fp16]
//   node server/dist/models/models-cli.js --download <catalog id>      (no id: list the catalog)
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { AppError } from '../http/errors.js';
import { loadConfig } from '../config/config.js';
import { importCheckpoint } from '../convert/import-checkpoint.js';
import type { Precision } from '../convert/graph-builder.js';
import { loadCatalog, type CatalogEntry } from './catalog.js';
import { catalogState, fetchCatalogModel } from './catalog-install.js';
import { DownloadError, formatBytes } from './download.js';
import { overallProgress } from './import-manager.js';
import { prepareImport } from './import-request.js';
import { ModelRegistry } from './model-registry.js';

const USAGE = `usage:
  ./start.sh import <checkpoint.safetensors | diffusers-folder> [--config <folder>] [--name <name>] [--fp16] [--models <dir>]
      converts an SD 1.x / 2.x checkpoint to ONNX into <models>/stable-diffusion/<name>/
      --config   a diffusers folder with config.json per network (for non-standard architectures)
      --name     the model's name (default: the file name)
      --fp16     float16 weights and compute, for GPUs: half the size (CPUs run the default fp32 faster)
  ./start.sh --download <catalog id> [--models <dir>]
      downloads a model from models/catalog.json (resumes an interrupted download; converts it when needed)
  ./start.sh --download
      lists the catalog`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // `--download` alone lists the catalog; parseArgs would call it a missing value.
  const bare = args.indexOf('--download');
  const listCatalog = bare >= 0 && (args[bare + 1] === undefined || args[bare + 1]!.startsWith('-'));
  if (listCatalog) args.splice(bare, 1);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      name: { type: 'string' },
      fp16: { type: 'boolean' },
      models: { type: 'string' },
      download: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const modelsDir = loadConfig(values.models ? ['--models', values.models] : [], process.env).modelsDir;
  if (values.help) return console.log(USAGE);
  if (listCatalog) return printCatalog(modelsDir);
  if (values.download !== undefined) {
    if (values.fp16) {
      console.error('--fp16 applies to import; catalog downloads are converted in fp32 (import the file by hand for fp16)');
      process.exitCode = 2;
      return;
    }
    return download(values.download, modelsDir);
  }
  if (positionals[0] === 'import' && positionals.length === 2) {
    return importFile(positionals[1]!, modelsDir, { config: values.config, name: values.name, precision: values.fp16 ? 'fp16' : 'fp32' });
  }
  console.error(USAGE);
  process.exitCode = 2;
}

async function importFile(source: string, modelsDir: string, opts: { config?: string; name?: string; precision: Precision }): Promise<void> {
  const registry = new ModelRegistry(modelsDir);
  const taken = new Set((await registry.list()).map((m) => m.id));
  const prepared = await prepareImport({ path: source, ...opts, modelsFolder: registry.stableDiffusionDir, taken: (n) => taken.has(n) });
  console.log(`Importing ${prepared.description ?? 'a diffusers folder'} as "${prepared.name}" (${prepared.precision}) → ${prepared.outDir}`);
  const start = performance.now();
  const bar = new ProgressBar();
  const result = await importCheckpoint({
    source: prepared.source,
    outDir: prepared.outDir,
    configDir: prepared.configDir,
    name: prepared.name,
    precision: prepared.precision,
    onProgress: ({ stage, done, total }) => bar.update(overallProgress(stage, done, total), stage),
  });
  bar.end();
  console.log(`Done in ${((performance.now() - start) / 1000).toFixed(0)} s: ${result.description}, ${result.predictionType}, ${result.precision}. Choose "${prepared.name}" in the model picker.`);
  for (const warning of result.warnings) console.log(`warning: ${warning}`);
}

async function download(id: string, modelsDir: string): Promise<void> {
  const entry = (await loadCatalog()).models.find((e) => e.id === id);
  if (!entry) throw new AppError(404, 'EASEL_ERR_CATALOG_NOT_FOUND', `the catalog has no model "${id}"; run ./start.sh --download to list them`);
  if ((await catalogState(entry, modelsDir)) === 'installed') return console.log(`${entry.name} is already installed.`);
  if (entry.licence.nonCommercial) console.log(`Note: ${entry.name} is under the ${entry.licence.name}, which forbids commercial use (${entry.licence.url}).`);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  console.log(`Downloading ${entry.name} (about ${formatBytes(entry.sizeBytes)})`);
  const bar = new ProgressBar();
  const fetched = await fetchCatalogModel(entry, modelsDir, {
    signal: controller.signal,
    onProgress: (p) => {
      const speed = p.bytesPerSecond > 0 ? `${formatBytes(p.bytesPerSecond)}/s` : '';
      const total = p.total ?? entry.sizeBytes;
      bar.update(total > 0 ? p.received / total : 0, `${formatBytes(p.received)} of ${p.estimated ? '~' : ''}${formatBytes(total)} ${speed}`);
    },
  });
  bar.end();
  if (fetched.needsConversion) {
    const registry = new ModelRegistry(modelsDir);
    const taken = new Set((await registry.list()).map((m) => m.id));
    const prepared = await prepareImport({ path: fetched.dir, name: entry.id, modelsFolder: registry.stableDiffusionDir, taken: (n) => taken.has(n) });
    console.log(`Converting to ONNX → ${prepared.outDir}`);
    const convert = new ProgressBar();
    await importCheckpoint({
      source: fetched.dir,
      outDir: prepared.outDir,
      name: entry.id,
      onProgress: ({ stage, done, total }) => convert.update(overallProgress(stage, done, total), stage),
    });
    convert.end();
    await rm(fetched.dir, { recursive: true, force: true });
  }
  console.log(`${entry.name} is installed in ${fetched.installDir}.`);
}

async function printCatalog(modelsDir: string): Promise<void> {
  const entries: CatalogEntry[] = (await loadCatalog()).models;
  for (const entry of entries) {
    const state = await catalogState(entry, modelsDir);
    const licence = `${entry.licence.name}${entry.licence.nonCommercial ? ', non-commercial' : ''}`;
    console.log(`${entry.id.padEnd(22)} ${formatBytes(entry.sizeBytes).padStart(9)}  ${state.padEnd(9)} ${entry.name} (${licence})`);
  }
  console.log('\nInstall one with ./start.sh --download <id>');
}

/** A one-line bar on a terminal; a line per 10 % when the output is a file or a pipe. */
let shownBar: ProgressBar | undefined;

class ProgressBar {
  private lastLine = '';
  private lastDecile = -1;
  private readonly tty = process.stdout.isTTY === true;

  update(fraction: number, label: string): void {
    const f = Math.max(0, Math.min(1, fraction));
    const width = 30;
    const filled = Math.round(f * width);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(f * 100)).padStart(3)}% ${label}`;
    if (this.tty) {
      if (line !== this.lastLine) process.stdout.write(`\r${line.padEnd(this.lastLine.length)}`);
    } else if (Math.floor(f * 10) > this.lastDecile) {
      this.lastDecile = Math.floor(f * 10);
      process.stdout.write(`${line}\n`);
    }
    this.lastLine = line;
    shownBar = this;
  }

  end(): void {
    if (this.tty && this.lastLine) process.stdout.write('\n');
    this.lastLine = '';
  }
}

main().catch((error: unknown) => {
  shownBar?.end();
  if (error instanceof DownloadError && error.code === 'EASEL_ERR_DOWNLOAD_ABORTED') {
    console.error('Stopped. Run the same command again to continue where it left off.');
  } else {
    console.error(`easel: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exitCode = 1;
});
