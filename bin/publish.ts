#!/usr/bin/env node
// `publish`: the chat itself. It arrives with the chat-over-MQTT work (issue 3); until then it says so.
import { reportError } from '../src/cli/report.js';
import { SunoyeError, ExitCode } from '../src/errors.js';

const message =
  'publish is not available in this version yet: the chat over MQTT comes next. ' +
  'Rooms can already be created, joined, inspected and closed with `room`.';
process.exitCode = reportError(
  'publish',
  new SunoyeError(message, ExitCode.other),
  process.stderr,
  process.env,
);
