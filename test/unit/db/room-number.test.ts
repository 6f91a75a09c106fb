// Room numbers (src/db/room-number.ts): six digits, never a leading 0.
import { expect } from 'chai';
import { isRoomNumber, randomRoomNumber } from '../../../src/db/room-number.js';

describe('room numbers', function () {
  it('takes six digits not starting with 0, and nothing else', function () {
    for (const good of ['100000', '482913', '999999']) expect(isRoomNumber(good)).to.equal(true);
    const bad = [
      '099999',
      '000000',
      '12345',
      '1234567',
      '48291a',
      ' 482913',
      '482913\n',
      '',
      '４８２９１３',
    ];
    for (const value of bad) expect(isRoomNumber(value), JSON.stringify(value)).to.equal(false);
  });

  it('draws numbers that are well formed, spread over the whole range', function () {
    const drawn = Array.from({ length: 2000 }, () => randomRoomNumber());
    for (const number of drawn) expect(isRoomNumber(number), number).to.equal(true);
    // 2000 draws from 900,000 numbers: nearly all different, and every first digit 1-9 appears.
    expect(new Set(drawn).size).to.be.greaterThan(1980);
    expect(new Set(drawn.map((n) => n[0])).size).to.equal(9);
  });
});
