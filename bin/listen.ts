#!/usr/bin/env node
// `listen`: the chat itself. It arrives with the chat-over-MQTT work; until then it says so.
import { reportError } from '../src/cli/report.js';
import { notAvailableYet } from '../src/errors.js';

process.exitCode = reportError('listen', notAvailableYet('listen'), process.stderr, process.env);
