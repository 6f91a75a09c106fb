// test/unit mirrors src/ (docs/development.md): the unit tests of `src/<dir>/<module>.ts` are in
// `test/unit/<dir>/<module>.test.ts`, or `<module>.<aspect>.test.ts` for one aspect of it (the
// tests of a test helper `test/helpers/<name>.ts` in test/unit/helpers/). A module with no unit
// test is named below with the reason; test/unit opens no network sockets (test/integration does).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Files of test/unit that check the whole tree rather than one module, with what they check. */
export const WHOLE_TREE: Readonly<Record<string, string>> = {
  'test/unit/layers.test.ts': 'the import layers of every file in bin/ and src/',
  'test/unit/layout.test.ts': 'this file: test/unit mirrors src/',
  'test/unit/import-side-effects.test.ts': 'importing any src/ module does nothing',
  'test/unit/mosquitto-conf.test.ts': "the repository's mosquitto.conf and mosquitto.acl",
};

/**
 * Modules of src/ with no unit test of their own, each with the reason: wiring that needs a
 * broker, a database or a terminal, tested end to end (test/e2e) or against real services
 * (test/integration); or logic whose unit test is still to write (issue 24).
 */
export const NO_UNIT_TEST: Readonly<Record<string, string>> = {
  // Wiring of a program: broker, registry and terminal together, tested end to end.
  'src/commands/chat.ts': 'wiring (broker, registry, terminal); test/e2e chat tests',
  'src/commands/close.ts': 'wiring (registry, broker); test/e2e room tests',
  'src/commands/create.ts': 'wiring (registry, password prompt); test/e2e room tests',
  'src/commands/format.ts': 'output of `room` commands; test/e2e room tests',
  'src/commands/info.ts': 'wiring (registry); test/e2e room tests',
  'src/commands/join.ts': 'wiring (registry, broker); test/e2e room tests',
  'src/commands/leave.ts': 'wiring (registry, broker); test/e2e room tests',
  'src/commands/list.ts': 'wiring (registry, remembered rooms); test/e2e room tests',
  'src/commands/publish.ts': 'wiring (broker, registry, stdin); test/e2e publish tests',
  'src/commands/serve.ts': 'starts the embedded broker; test/e2e serve tests',
  'src/http/assets.ts': 'reads dist/web; test/e2e/web-serve.test.ts',
  'src/http/rooms-api.ts': 'answers from a registry; test/e2e/web-serve.test.ts',
  'src/http/site.ts': 'an HTTP server; test/e2e/web-serve.test.ts',
  'src/web/identity.ts': "the page's IndexedDB identity, in a browser; test/e2e/web-chat.test.ts",
  'src/web/main.ts': 'the room page, in a browser; test/e2e/web-page.test.ts',
  'src/web/scrypt-worker.ts': "the room page's Worker, in a browser; test/e2e/web-page.test.ts",
  'src/commands/whoami.ts': 'prints the identity file; test/e2e tests',
  'src/cli/heap.ts': 'sizes the heap of a starting program; test/e2e programs',
  'src/cli/program.ts': 'runs a program in a process; every test/e2e program',
  'src/cli/signals.ts': 'process signals; test/e2e and test/faults interruption tests',
  'src/terminal/progress.ts': 'a live terminal; test/e2e terminal tests',
  'src/terminal/status.ts': 'a live terminal; test/e2e terminal tests',
  // Real services: the registry's SQL and the MQTT client, tested against them.
  'src/db/index.ts': 're-exports only',
  'src/db/mysql.ts': 'MariaDB driver; test/integration/store-mysql*.test.ts',
  'src/db/open.ts': 'picks the driver for a URL; test/integration/store-*.test.ts',
  'src/db/schema.ts': 'migrations; test/integration/store-contract.ts on both backends',
  'src/db/sql-store.ts': 'the registry over SQL; test/integration/store-contract.ts',
  'src/db/sql.ts': 'interfaces only',
  'src/db/sqlite.ts': 'SQLite driver; test/integration/store-sqlite*.test.ts',
  'src/db/store.ts': 'the registry contract; test/integration/store-contract.ts',
  'src/history/reader.ts': 'reads a store; test/integration/history-reader.test.ts',
  'src/history/writer.ts': 'writes a store; test/integration/history-writer.test.ts',
  'src/mqtt/broker.ts': 'the embedded broker; test/integration/mqtt-first-connect.test.ts',
  'src/mqtt/connection.ts': 'the MQTT client; test/integration/mqtt-connection.test.ts',
  'src/mqtt/websocket.ts': 'MQTT over WebSocket; test/e2e broker tests',
  'src/protocol/index.ts': 're-exports only',
  'src/web/room.ts': 'wiring (broker); test/integration/web-room.test.ts',
  'src/web/membership.ts': "the page's membership, in a browser; test/e2e/web-page.test.ts",
  'src/web/history.ts': "the page's history over HTTP, in a browser; test/e2e/web-chat.test.ts",
  'src/history/show.ts':
    'wiring (inbox, reads); test/e2e/history-reading.test.ts, test/e2e/web-chat.test.ts',
  'src/http/members-api.ts': 'over HTTP with a registry; test/e2e/web-serve.test.ts',
  'src/conversation/pins.ts':
    'reads the pins file; test/unit/conversation/inbox.authentic.test.ts checks what it reads',
  'src/protocol/generated/payload-validator.ts':
    'generated at build time; test/unit/protocol/validate.test.ts checks it against ajv',
  'src/protocol/schema.ts': 'the JSON Schema; test/unit/protocol/validate.test.ts checks it',
  'src/conversation/gaps.ts': 'interfaces only',
  // Logic tested today only through other modules or end to end; a unit test is still to write.
  'src/cli/help.ts': 'to write; help texts are checked in test/e2e help tests',
  'src/cli/options.ts': 'to write; tested through test/unit/cli/args.test.ts',
  'src/cli/usage-errors.ts': 'to write; tested through test/unit/cli/args.test.ts',
  'src/config/broker.ts': 'to write; tested through test/unit/config/config.test.ts',
  'src/conversation/announce.ts': 'to write; tested in test/e2e chat tests',
  'src/conversation/presence.ts': 'to write; tested in test/e2e chat tests',
  'src/conversation/senders.ts':
    'to write; tested through the test/unit/conversation/inbox.* tests',
  'src/db/history-rows.ts': 'to write; tested through test/integration/store-history-contract.ts',
  'src/errors.ts': 'to write; exit codes are checked in test/e2e',
  'src/history/rows.ts': 'to write; tested through test/unit/history/recovery.test.ts',
  'src/home/mqtt-versions.ts': 'to write; tested in test/integration/mqtt-first-connect.test.ts',
  'src/home/room-files.ts': 'to write; tested through test/unit/home/remembered.test.ts',
  'src/room/closure.ts': 'to write; tested in test/e2e room tests',
  'src/room/context.ts': 'to write; tested in test/e2e room tests',
  'src/room/room-access.ts': 'to write; tested in test/e2e room tests',
  'src/room/target.ts': 'to write; tested in test/e2e room tests',
  'src/secrets/phrases.ts': 'to write; tested through test/unit/secrets/password.test.ts',
  'src/secrets/strength.ts': 'to write; tested through test/unit/secrets/password.test.ts',
  'src/secrets/variants.ts': 'to write; tested through test/unit/secrets/password.test.ts',
  'src/terminal/keys.ts': 'to write; tested in test/e2e terminal tests',
  'src/mqtt/failure.ts': 'to write; tested in test/integration/mqtt-connection.test.ts',
};

/**
 * Unit test files that still open a socket, with the reason. Imports that mean a network: a
 * broker, a database server, a proxy or scripted peer, or Node's socket modules.
 */
export const ONLINE: Readonly<Record<string, string>> = {
  'test/unit/history/recovery.test.ts':
    'one case cuts a proxied MariaDB (requireMysql); to move to test/integration',
};
const NETWORK_IMPORTS = [
  /^node:(net|http|https|http2|tls|dgram)$/,
  /^(aedes|mqtt|mysql2|ws)$/,
  /\/helpers\/(brokers|peer|proxy|mysql|galera|nats|registries)\.js$/,
  /\/src\/mqtt\/broker\.js$/,
  /\/src\/db\/mysql\.js$/,
];

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    return entry.isDirectory() ? files(path) : [path];
  });
}

/** The module a unit test file is about: `src/<dir>/<module>.ts`, or a test helper's file. */
export function mirrorOf(testFile: string): string | undefined {
  const match = /^test\/unit\/((?:[\w-]+\/)*)([\w-]+)(?:\.[\w-]+)?\.test\.ts$/.exec(testFile);
  if (!match) return undefined;
  const [, dir, module] = match;
  if (dir!.startsWith('helpers/'))
    return `test/helpers/${dir!.slice('helpers/'.length)}${module}.ts`;
  return `src/${dir}${module}.ts`;
}

/** Every module specifier a file imports: static (type-only too), bare or dynamic. */
function allImports(text: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\s[^'"]*?\sfrom\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]!));
}

describe('the layout of test/unit', function () {
  const unit = files('test/unit');
  const sources = new Set(files('src').filter((f) => f.endsWith('.ts')));
  const helpers = new Set(files('test/helpers'));
  const mirrored = new Set(unit.map(mirrorOf).filter((m) => m !== undefined));

  it('maps a test file to its module, an aspect of it, or a test helper', function () {
    expect(mirrorOf('test/unit/db/room-row.test.ts')).to.equal('src/db/room-row.ts');
    expect(mirrorOf('test/unit/conversation/inbox.attacks.test.ts')).to.equal(
      'src/conversation/inbox.ts',
    );
    expect(mirrorOf('test/unit/redact.test.ts')).to.equal('src/redact.ts');
    expect(mirrorOf('test/unit/helpers/wait.test.ts')).to.equal('test/helpers/wait.ts');
    expect(mirrorOf('test/unit/db/room-row.ts')).to.equal(undefined);
    expect(mirrorOf('test/unit/db/a.b.c.test.ts')).to.equal(undefined);
    expect(unit.length).to.be.above(40);
  });

  it('has only test files, each about a module that exists', function () {
    const strays = unit.filter((file) => {
      if (file in WHOLE_TREE) return false;
      const module = mirrorOf(file);
      return module === undefined || !(sources.has(module) || helpers.has(module));
    });
    expect(strays, 'name each after the module it tests (docs/development.md)').to.deep.equal([]);
    for (const file of Object.keys(WHOLE_TREE)) expect(unit, file).to.include(file);
  });

  it('has a unit test, or a reason in NO_UNIT_TEST, for every module of src/', function () {
    const untested = [...sources].filter((m) => !mirrored.has(m) && !(m in NO_UNIT_TEST));
    expect(untested, 'add a unit test, or the reason there is none').to.deep.equal([]);
    // No stale reason: a module named there exists and has no unit test.
    const stale = Object.keys(NO_UNIT_TEST).filter((m) => !sources.has(m) || mirrored.has(m));
    expect(stale, 'remove these from NO_UNIT_TEST').to.deep.equal([]);
  });

  it('opens no network socket: brokers, databases and peers belong in test/integration', function () {
    const online = unit.filter((file) =>
      allImports(readFileSync(join(root, file), 'utf8')).some((spec) =>
        NETWORK_IMPORTS.some((pattern) => pattern.test(spec)),
      ),
    );
    expect(online.sort()).to.deep.equal(Object.keys(ONLINE).sort());
  });
});
