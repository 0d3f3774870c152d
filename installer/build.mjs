// Builds the server and the UI when any of their sources is newer than the build output, so a plain restart
// costs nothing and an edited or updated app folder is rebuilt before it runs.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { dryRun, fail, npm, say, startScript, step } from './common.mjs';

const TARGETS = [
  { name: 'server', workspace: 'server', output: 'server/dist/main.js', sources: ['server/src', 'server/package.json', 'server/tsconfig.json', 'tsconfig.base.json'] },
  { name: 'UI', workspace: 'ui', output: 'ui/dist/index.html', sources: ['ui/src', 'ui/index.html', 'ui/package.json', 'ui/vite.config.ts'] },
];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

export function buildStale() {
  step('Checking the build');
  for (const target of TARGETS) {
    const built = mtime(target.output);
    if (built !== undefined && Math.max(...target.sources.map(newest)) <= built) {
      say(`The ${target.name} is up to date.`);
      continue;
    }
    step(`Building the ${target.name}`);
    if (dryRun('build')) {
      say(`(dry run) would run: npm run build -w ${target.workspace}`);
      continue;
    }
    if (!npm(['run', 'build', '-w', target.workspace])) {
      fail(
        `the ${target.name} did not build (see above).`,
        `If you changed its sources, fix the error shown; otherwise delete node_modules and run ${startScript} again.`,
      );
    }
  }
}
