// The repository's mosquitto.conf and mosquitto.acl keep the limits docs/deployment.md promises: no
// anonymous clients, ordinary users on sunoye's rooms only (so none reads another's client id on
// $SYS), no packet larger than sunoye takes, bounded queues. (test/e2e/broker-security.test.ts
// runs mosquitto with them.)
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { MAX_PACKET_BYTES } from '../../src/mqtt/packet-limit.js';

/** The settings of a mosquitto file: each line that is not a comment, as [name, value]. */
function settings(file: string): [string, string][] {
  return readFileSync(new URL(`../../../${file}`, import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [name, ...value] = line.split(/\s+/);
      return [name!, value.join(' ')];
    });
}

describe('the repository mosquitto.conf and mosquitto.acl', function () {
  const conf = new Map(settings('mosquitto.conf'));

  it('lets in only users with a password, under the ACL', function () {
    expect(conf.get('allow_anonymous')).to.equal('false');
    expect(conf.get('password_file')).to.be.a('string');
    expect(conf.get('acl_file')).to.be.a('string');
  });

  it('gives ordinary users sunoye rooms and nothing else: no $SYS, no other topic', function () {
    expect(settings('mosquitto.acl')).to.deep.equal([['pattern', 'readwrite sunoye/room/#']]);
    // mosquitto would log each client's id on $SYS/broker/log.
    expect(conf.get('log_dest') ?? '').to.not.include('topic');
  });

  it('takes no packet larger than sunoye does, and bounds what it queues per client', function () {
    const maxPacket = Number(conf.get('max_packet_size'));
    expect(maxPacket).to.be.within(64 * 1024, MAX_PACKET_BYTES);
    expect(Number(conf.get('max_queued_bytes'))).to.be.within(1, 2 ** 30);
  });
});
