// URLs in messages (src/redact.ts): never any part of their credentials, query or fragment.
import { expect } from 'chai';
import { redactUrl } from '../../src/redact.js';

describe('redacting URLs', function () {
  it('hides the user information, query and fragment, and keeps scheme, host and path', function () {
    expect(redactUrl('mysql://bob:s3cret@db.example:3306/sunoye?ssl=true')).to.equal(
      'mysql://***@db.example:3306/sunoye?***',
    );
    expect(redactUrl('mqtts://u@broker/x#token')).to.equal('mqtts://***@broker/x#***');
    expect(redactUrl('mqtt://broker:1883')).to.equal('mqtt://broker:1883');
    expect(redactUrl('/home/bob/rooms.db')).to.equal('/home/bob/rooms.db');
  });

  it('hides a password holding @, /, ? or # however it is written', function () {
    for (const url of [
      'mysql://bob:p@ss@host/db',
      'mysql://bob:pa/ss@host/db',
      'mysql//bob:pass@host/db',
      'mysql://bob:pa?ss@host/db',
      'mysql://bob:pa#ss@host/db',
    ]) {
      const shown = redactUrl(url);
      expect(shown, url).to.not.include('pa');
      expect(shown, url).to.not.include('bob');
    }
  });

  it('when no @ is in the authority, hides everything up to the last @ (where it ends is unknown)', function () {
    expect(redactUrl('http://host/people/@bob')).to.equal('http://***@bob');
    expect(redactUrl('bob:pa/ss@host')).to.equal('***@host');
  });
});
