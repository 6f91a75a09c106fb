// Nothing happens on import: no connections, no files, no process listeners, no timers.
// Checked in a fresh Node process, so that other tests' handles cannot blur the picture.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';

const srcDir = fileURLToPath(new URL('../../src/', import.meta.url));

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modules(path);
    return entry.name.endsWith('.js') ? [path] : [];
  });
}

const probe = `
const events = ['exit', 'SIGINT', 'SIGTERM', 'uncaughtException', 'unhandledRejection', 'beforeExit'];
// CloseReq is the module loader closing the files it read: transient, not ours.
const snapshot = () => ({
  listeners: events.map((e) => process.listenerCount(e)),
  resources: process.getActiveResourcesInfo().filter((r) => r !== 'CloseReq'),
});
// Materialise the standard streams first: their lazy getters open handles when first read (by
// any module that touches them); those are Node's, not sunoye's.
void [process.stdin, process.stdout, process.stderr];
const before = snapshot();
for (const url of JSON.parse(process.env.MODULES)) await import(url);
const result = JSON.stringify({ before, after: snapshot() }); // before touching process.stdout
process.stdout.write(result);
`;

describe('importing sunoye modules', function () {
  it('opens no handles, writes no files and adds no process listeners', function () {
    const files = modules(srcDir);
    expect(files.length).to.be.above(10);
    const home = mkdtempSync(join(tmpdir(), 'sunoye-import-'));
    try {
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', probe], {
        env: {
          ...process.env,
          HOME: home,
          XDG_CONFIG_HOME: '',
          XDG_DATA_HOME: '',
          MODULES: JSON.stringify(files.map((f) => pathToFileURL(f).href)),
        },
        encoding: 'utf8',
      });
      expect(run.stderr).to.equal('');
      const { before, after } = JSON.parse(run.stdout) as { before: unknown; after: unknown };
      expect(after).to.deep.equal(before);
      expect(readdirSync(home)).to.deep.equal([]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
