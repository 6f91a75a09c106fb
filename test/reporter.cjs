// mocha's spec reporter plus, at the end, the ten slowest test files with their seconds (each
// file's top-level suites, hooks included, from start to end) and one plain closing line,
// "N passed, N failed, N skipped", that any CI can read without knowing mocha.
'use strict';
const path = require('node:path');
const Mocha = require('mocha');

/** How many of the slowest files the end of the run names. */
const SLOWEST = 10;

class SpecWithTotals extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    /** Milliseconds per test file, summed over its top-level suites. */
    const perFile = new Map();
    const started = new Map();
    runner.on('suite', (suite) => {
      if (suite.file && suite.parent && suite.parent.root) started.set(suite, Date.now());
    });
    runner.on('suite end', (suite) => {
      const start = started.get(suite);
      if (start === undefined) return;
      started.delete(suite);
      perFile.set(suite.file, (perFile.get(suite.file) ?? 0) + Date.now() - start);
    });
    runner.once('end', () => {
      const slowest = [...perFile].sort((a, b) => b[1] - a[1]).slice(0, SLOWEST);
      if (slowest.length > 0) {
        process.stdout.write(`\nslowest test files:\n`);
        for (const [file, ms] of slowest) {
          const seconds = (ms / 1000).toFixed(1).padStart(7);
          process.stdout.write(`${seconds} s  ${path.relative(process.cwd(), file)}\n`);
        }
      }
      const { passes, failures, pending } = runner.stats;
      process.stdout.write(`\n${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}

module.exports = SpecWithTotals;
