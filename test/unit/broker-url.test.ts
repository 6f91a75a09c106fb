// Which broker a URL names: what a room's record keeps, and when two URLs are the same broker.
import { expect } from 'chai';
import {
  brokerAddress,
  differentBrokers,
  hasUserInfo,
  recordedBrokerUrl,
  sameBroker,
  shareableBrokerUrl,
} from '../../src/broker-url.js';

describe('broker URLs', function () {
  it('names a broker by scheme, host and port, with the default port of its scheme', function () {
    expect(brokerAddress('mqtt://Chat.Example')).to.deep.equal({
      scheme: 'mqtt',
      host: 'chat.example',
      port: 1883,
    });
    expect(brokerAddress('ssl://h')).to.deep.equal({ scheme: 'mqtts', host: 'h', port: 8883 });
    expect(brokerAddress('ws://h/mqtt')).to.deep.equal({ scheme: 'ws', host: 'h', port: 80 });
    expect(brokerAddress('wss://[::1]:9001')).to.deep.equal({
      scheme: 'wss',
      host: '::1',
      port: 9001,
    });
    expect(brokerAddress('h:1884')).to.deep.equal({ scheme: 'mqtt', host: 'h', port: 1884 });
    for (const bad of ['http://h', 'mqtt://', 'mqtt://h:99999', ''])
      expect(brokerAddress(bad), bad).to.equal(undefined);
  });

  it('records scheme://host:port only: no user, password, path or query', function () {
    expect(recordedBrokerUrl('mqtts://bob:s3cret@Broker:8884/x?token=t#f')).to.equal(
      'mqtts://broker:8884',
    );
    expect(recordedBrokerUrl('wss://u:p@[::1]/mqtt')).to.equal('wss://[::1]:443');
    expect(recordedBrokerUrl(`mqtt://${'a'.repeat(400)}`)).to.equal(undefined);
  });

  it('gives others the broker without credentials, keeping a WebSocket path', function () {
    expect(shareableBrokerUrl('tcp://u:p@Host/?x=1')).to.equal('mqtt://host:1883');
    expect(shareableBrokerUrl('wss://u:p@host/mqtt?token=t')).to.equal('wss://host:443/mqtt');
    expect(shareableBrokerUrl('ws://host:8080/')).to.equal('ws://host:8080');
    expect(shareableBrokerUrl('http://host')).to.equal(undefined);
  });

  it('takes URLs for the same broker as one, whatever their credentials or loopback name', function () {
    expect(sameBroker('mqtt://localhost:1883', 'mqtt://127.0.0.1')).to.equal(true);
    expect(sameBroker('tcp://u:p@h:1883', 'mqtt://H')).to.equal(true);
    expect(sameBroker('mqtt://[::1]:1883', 'mqtt://localhost')).to.equal(true);
    expect(sameBroker('mqtt://h:1883', 'mqtt://h:1884')).to.equal(false);
    expect(sameBroker('mqtt://h', 'mqtts://h')).to.equal(false);
    expect(sameBroker('mqtt://h', 'mqtt://g')).to.equal(false);
    expect(sameBroker('mqtt://h', 'http://h')).to.equal(false);
  });

  it("takes other hosts, or one transport on other ports, for other brokers; not one host's other listeners", function () {
    expect(differentBrokers('mqtt://h:1883', 'mqtt://g:1883')).to.equal(true);
    expect(differentBrokers('mqtt://127.0.0.1:40121', 'mqtt://localhost')).to.equal(true);
    expect(differentBrokers('ws://h:8080', 'ws://h:9001/mqtt')).to.equal(true);
    expect(differentBrokers('mqtt://h', 'wss://h/mqtt')).to.equal(false);
    expect(differentBrokers('mqtt://localhost', 'mqtts://127.0.0.1:8883')).to.equal(false);
    expect(differentBrokers('tcp://u:p@H:1883', 'mqtt://h')).to.equal(false);
    expect(differentBrokers('mqtt://h', 'http://g')).to.equal(false);
  });

  it('takes a comma-separated list for the nodes of one cluster, each as one URL', function () {
    const list = 'mqtt://bob:s3cret@N1:1883, n2:1884,ws://u:p@n3/mqtt?token=t';
    expect(recordedBrokerUrl(list)).to.equal('mqtt://n1:1883,mqtt://n2:1884,ws://n3:80');
    expect(shareableBrokerUrl(list)).to.equal('mqtt://n1:1883,mqtt://n2:1884,ws://n3:80/mqtt');
    expect(hasUserInfo('mqtt://n1,mqtt://u:p@n2', 'password')).to.equal(true);
    expect(hasUserInfo('mqtt://n1,mqtt://n2')).to.equal(false);
    expect(recordedBrokerUrl('mqtt://n1,http://n2')).to.equal(undefined);
  });

  it('takes the same set of nodes for one broker, and lists that share a node for one cluster', function () {
    expect(sameBroker('mqtt://n1,mqtt://n2', 'n2:1883,n1')).to.equal(true);
    expect(sameBroker('mqtt://n1,mqtt://n2', 'mqtt://n1')).to.equal(false);
    expect(sameBroker('mqtt://localhost', 'mqtt://127.0.0.1,mqtt://[::1]')).to.equal(true);
    // Overlapping lists: one cluster named by other nodes; no node in common: other brokers.
    expect(differentBrokers('mqtt://n1,mqtt://n2', 'mqtt://n2,mqtt://n3')).to.equal(false);
    expect(differentBrokers('mqtt://n1,mqtt://n2,mqtt://n3', 'mqtt://n3')).to.equal(false);
    expect(differentBrokers('mqtt://n1,mqtt://n2', 'mqtt://n3,mqtt://n4')).to.equal(true);
    expect(differentBrokers('mqtt://n1,mqtt://n2', 'mqtt://n3')).to.equal(true);
  });
});
