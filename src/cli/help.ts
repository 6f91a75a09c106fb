/** Help text details yargs does not have: value names (`--db URL`), and sunoye's version. */
import { readFileSync } from 'node:fs';
import type { Program } from './args.js';

/** Every option of `program` that takes a value, with its value's name in help. */
function valueNames(program: Program): Map<string, string> {
  const names = new Map<string, string>();
  const all = [
    program.options ?? {},
    ...[program.main, ...(program.commands ?? [])].map((c) => c?.options ?? {}),
  ];
  for (const specs of all)
    for (const [key, spec] of Object.entries(specs))
      if (spec.type !== 'boolean')
        names.set(key, spec.value ?? (spec.type === 'number' ? 'N' : 'VALUE'));
  return names;
}

/** The widest ` VALUE` help adds after an option's name. */
export function valueColumn(program: Program): number {
  return Math.max(0, ...[...valueNames(program).values()].map((v) => v.length + 1));
}

/**
 * Help with each option's value named (`--db URL`). yargs has no value names; they are put
 * after the switches, the descriptions moving right by the same amount in the options' table.
 */
export function withValueNames(help: string, program: Program): string {
  const names = valueNames(program);
  const shift = valueColumn(program);
  const lines = help.split('\n');
  let inOptions = false;
  return lines
    .map((line) => {
      if (/^\S/.test(line)) inOptions = line === 'Options:';
      if (!inOptions || !/^\s/.test(line) || line.trim() === '') return line;
      const row = /^(\s+(?:-\w, )?--([\w-]+))( *)(.*)$/.exec(line);
      if (!row) return `${' '.repeat(shift)}${line}`.trimEnd();
      const [, flag, key, gap, rest] = row as unknown as [string, string, string, string, string];
      const value = names.get(key) ? ` ${names.get(key)}` : '';
      const pad = rest === '' ? '' : ' '.repeat(Math.max(2, gap.length + shift - value.length));
      return `${flag}${value}${pad}${rest}`.trimEnd();
    })
    .join('\n');
}

/**
 * A program's list of commands with each command as its own usage says it: yargs shows `room chat
 * [room]` for a room that may be left out only for --topic, which `room chat --help` calls `<room>`.
 */
export function withCommandUsage(help: string, program: Program): string {
  let inCommands = false;
  return help
    .split('\n')
    .map((line) => {
      if (/^\S/.test(line)) inCommands = line === 'Commands:';
      if (!inCommands) return line;
      for (const c of program.commands ?? []) {
        const usage = c.usage?.split('\n')[0]?.replace('$0', program.name);
        const row = new RegExp(`^(\\s+)${program.name} ${c.name}(?: \\S+)*( +)(.*)$`).exec(line);
        if (usage === undefined || !row) continue;
        const [, indent, gap, rest] = row as unknown as [string, string, string, string];
        const width = line.length - indent.length - gap.length - rest.length;
        const pad = ' '.repeat(Math.max(2, gap.length + width - usage.length));
        return `${indent}${usage}${pad}${rest}`;
      }
      return line;
    })
    .join('\n');
}

/** The version in package.json, two folders above the program (dist/bin or dist/src/cli). */
export function version(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'sunoye' && pkg.version) return pkg.version;
    } catch {
      // Not there; try the next.
    }
  }
  return 'unknown';
}
