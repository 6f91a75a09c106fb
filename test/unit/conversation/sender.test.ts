// What a sender stamps on its messages, and the wording of its notices.
import { expect } from 'chai';
import { noticeText, Sender } from '../../../src/conversation/sender.js';
import { senderOf } from '../../../src/conversation/tracker.js';
import { decodePlain } from '../../../src/protocol/index.js';

describe('sender stamps and notices', function () {
  it('numbers messages and gives them room-unique ids', function () {
    const a = new Sender('alice');
    const b = new Sender('alice');
    const m1 = a.message('x');
    const m2 = a.message('y');
    expect([m1.seq, m2.seq]).to.deep.equal([1, 2]);
    expect(senderOf(m1.id!)).to.equal(a.id);
    expect(a.id).to.not.equal(b.id);
    expect(decodePlain(JSON.stringify(m2)).ok).to.equal(true);
  });

  it("uses MQTT-Chat's notice wording", function () {
    expect(noticeText('join', 'bob', 'chat/x')).to.equal('User bob is now subscribed to chat/x .');
    expect(noticeText('leave', 'bob', 'chat/x')).to.equal('User bob disconnecting from chat/x .');
    expect(noticeText('lost', 'bob', 'chat/x')).to.equal('User bob timed out.');
    expect(noticeText('closed', 'bob', 'sunoye/room/482913', '482913')).to.equal(
      'Room 482913 was closed by bob.',
    );
  });
});
