// The layers run one way (docs/development.md): every import in bin/ and src/ points to its own
// folder or to a lower layer, and no folders import each other in a circle.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Each folder's layer, highest first; a file may import its own folder or a lower layer. */
export const LAYERS: readonly (readonly string[])[] = [
  ['bin', 'src/web'], // the programs, and the room page (its own bundle, for a browser)
  ['src/commands'],
  ['src/cli'],
  ['src/terminal'],
  ['src/history'],
  ['src/conversation'],
  ['src/room'],
  ['src/http'],
  ['src/config'],
  ['src/mqtt', 'src/db', 'src/home', 'src/secrets'],
  ['src/protocol'],
  ['src'], // errors.ts, redact.ts
];

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative module specifiers of a file: static, type-only, re-exports and dynamic imports. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^'"]*?\sfrom\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns)
    for (const match of text.matchAll(pattern))
      if (match[1]!.startsWith('.')) found.push(match[1]!);
  return found;
}

/** The folder a file belongs to, as named in LAYERS (a file in a subfolder counts as its parent). */
function folderOf(file: string): string {
  const folders = LAYERS.flat().sort((a, b) => b.length - a.length);
  const folder = folders.find((f) => file.startsWith(`${f}/`));
  if (!folder) throw new Error(`${file} is in no layer; add its folder to LAYERS`);
  return folder;
}

const rankOf = (folder: string): number => LAYERS.findIndex((layer) => layer.includes(folder));

/** Every import between two folders, as "from -> to (file)". */
function folderEdges(): { from: string; to: string; file: string; spec: string }[] {
  const files = [...sources('bin'), ...sources('src')];
  return files.flatMap((file) =>
    importsOf(readFileSync(join(root, file), 'utf8')).map((spec) => {
      const target = relative(root, resolve(root, dirname(file), spec)).replace(/\.js$/, '.ts');
      return { from: folderOf(file), to: folderOf(target), file, spec };
    }),
  );
}

/** Folder-level cycles, each as the list of folders round it. */
function cycles(edges: { from: string; to: string }[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges)
    if (from !== to) next.set(from, (next.get(from) ?? new Set()).add(to));
  const found: string[][] = [];
  const visit = (path: string[]): void => {
    for (const to of next.get(path.at(-1)!) ?? []) {
      if (to === path[0]) found.push([...path, to]);
      else if (!path.includes(to) && to > path[0]!) visit([...path, to]);
    }
  };
  for (const start of next.keys()) visit([start]);
  return found;
}

describe('layers', function () {
  const edges = folderEdges();

  it('finds the imports it checks', function () {
    expect(edges.length).to.be.above(50);
    expect(
      importsOf("import type { A } from '../a.js';\nconst b = await import('./b.js');"),
    ).to.deep.equal(['../a.js', './b.js']);
  });

  it('has no import against the direction of the layers', function () {
    const against = edges
      .filter(({ from, to }) => from !== to && rankOf(to) <= rankOf(from))
      .map(({ file, spec, from, to }) => `${file} imports ${spec} (${from} -> ${to})`);
    expect(against).to.deep.equal([]);
  });

  it('has no import cycle between folders', function () {
    expect(cycles(edges)).to.deep.equal([]);
    expect(
      cycles([
        { from: 'a', to: 'b' },
        { from: 'b', to: 'a' },
      ]),
    ).to.deep.equal([['a', 'b', 'a']]);
  });
});
