// MQTT topics (src/mqtt/topics.ts): one per room under a prefix, never a wildcard.
import { expect } from 'chai';
import { ExitCode, RefusedError, UsageError } from '../../../src/errors.js';
import {
  aclRefusal,
  checkTopic,
  DEFAULT_TOPIC_PREFIX,
  isNotAuthorized,
  roomTopic,
} from '../../../src/mqtt/topics.js';

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a usage error');
}

describe('room topics', function () {
  it('puts a room under its prefix, dropping trailing slashes of the prefix', function () {
    expect(roomTopic(DEFAULT_TOPIC_PREFIX, '482913')).to.equal('sunoye/room/482913');
    expect(roomTopic('acme/chat//', '482913')).to.equal('acme/chat/room/482913');
  });

  it('refuses wildcards, NUL and an empty prefix, naming what was wrong', function () {
    expect(usageError(() => roomTopic('a/#', '1')).message).to.equal(
      'the topic prefix "a/#" must be non-empty and hold no wildcards (# +)',
    );
    for (const prefix of ['', 'a/+/b', 'a\u0000b']) usageError(() => roomTopic(prefix, '482913'));
    for (const topic of ['', '#', 'x/+', 'x\u0000']) usageError(() => checkTopic(topic));
    expect(checkTopic('a b/é/$x')).to.equal('a b/é/$x');
  });

  it('refuses a topic over MQTT’s 65,535 bytes, counted in UTF-8', function () {
    expect(checkTopic('x'.repeat(65_535))).to.have.length(65_535);
    usageError(() => checkTopic('x'.repeat(65_536)));
    usageError(() => checkTopic('é'.repeat(32_768))); // 65,536 bytes in 32,768 characters
  });

  it('tells the broker’s "not authorized" from other errors, and refuses with exit 3', function () {
    expect(isNotAuthorized({ code: 0x87 })).to.equal(true);
    for (const err of [{ code: 0x80 }, { code: '135' }, new Error('x'), null, undefined])
      expect(isNotAuthorized(err)).to.equal(false);
    const refusal = aclRefusal('sunoye/room/482913');
    expect(refusal).to.be.instanceOf(RefusedError);
    expect(refusal.exitCode).to.equal(ExitCode.refused);
    expect(refusal.message).to.include('sunoye/room/482913');
  });
});
