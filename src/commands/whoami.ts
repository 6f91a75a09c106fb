/** `room whoami`: your name and the fingerprint of your signing key, to compare out of band. */
import { command } from '../cli/args.js';
import { commandContext, jsonOption, commonOptionsOf } from '../cli/options.js';
import { writeJson, type CommandContext } from '../room/context.js';
import { loadIdentity } from '../home/identity.js';

export interface WhoamiOptions {
  json: boolean;
}

/** `room whoami`, as the command line declares it. */
export const whoamiCommand = command(
  {
    name: 'whoami',
    describe: 'Show your name and your key fingerprint, for others to compare',
    positionals: [],
    options: { ...commonOptionsOf('name', 'home'), ...jsonOption },
  },
  (args, shell) => whoami(commandContext(args, shell), args),
);

/** Prints this user's name and key fingerprint (making the key on first use). */
export function whoami(ctx: CommandContext, options: WhoamiOptions): Promise<void> {
  const identity = loadIdentity(ctx.config.home);
  const name = ctx.config.name;
  if (options.json) {
    writeJson(ctx.io, { name, key: identity.fingerprint, file: identity.path });
    return Promise.resolve();
  }
  ctx.io.stdout.write(`${name}  key ${identity.fingerprint}\n`);
  if (ctx.io.stdout.isTTY === true)
    ctx.io.stderr.write(
      'Members see this key beside your name in encrypted rooms (join notices, `listen --json`, `room info`).\n' +
        'Compare it with them by another channel (in person, by phone) to be sure nobody speaks as you.\n',
    );
  return Promise.resolve();
}
