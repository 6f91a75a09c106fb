// Why a file could not be read, in words: every file sunoye reads says the same.
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { fileProblem } from '../../src/file-problem.js';

/** The error reading `path` gives. */
function readError(path: string): unknown {
  try {
    readFileSync(path);
  } catch (err) {
    return err;
  }
  throw new Error(`${path} could be read`);
}

describe('file problems in words', function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-files-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('says "no such file", "it is a folder", and what other codes mean', function () {
    expect(fileProblem(readError(join(dir, 'missing')))).to.equal('no such file');
    expect(fileProblem(readError(dir))).to.equal('it is a folder, not a file');
    expect(fileProblem(Object.assign(new Error('x'), { code: 'EACCES' }))).to.equal(
      'permission denied',
    );
    expect(fileProblem(Object.assign(new Error('x'), { code: 'EWHATEVER' }))).to.equal('EWHATEVER');
    expect(fileProblem(new Error('plain'))).to.equal('plain');
  });
});
