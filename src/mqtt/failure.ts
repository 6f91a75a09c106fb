/** Why a connection to the broker failed, and what to do about it: shared by both ways of connecting. */
export interface FailureWords {
  /** What happened: `connection refused`. */
  reason: string;
  /** What to check or do, when there is something: `is a broker running there? …`. */
  advice?: string;
}

/** Whether the broker (or whatever listens there) said nothing within the time it had. */
export function isSilence(err: Error & { code?: string | number }): boolean {
  return err.code === 'ETIMEDOUT' || err.message === 'connack timeout';
}

/**
 * What MQTT.js's packet parser (mqtt-packet) says of bytes that are no MQTT packet: whatever
 * listens there (a database, a web server) answered in its own protocol.
 */
const NOT_MQTT =
  /^(Invalid (header flag bits|protocolId|protocol version|connack flags|variable byte integer|suback|unsuback|subscribe|retain handling|\w+ reason code)|Malformed |Cannot parse |Packet too short$|Packet must not have |Not supported|Unknown property$|Connect flag bit |Will (Retain|QoS) )/;

/** Why a connection to the broker failed, in words, with what to do apart. */
export function failureWords(err: Error & { code?: string | number }): FailureWords {
  if (err.code === 'ECONNREFUSED')
    return {
      reason: 'connection refused',
      advice: 'is a broker running there? `room serve` starts one',
    };
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return { reason: 'unknown host' };
  if (isSilence(err))
    return { reason: 'no answer within the connect timeout', advice: 'is this an MQTT broker?' };
  if (err.code === undefined && NOT_MQTT.test(err.message))
    return {
      reason: `it sent something that is not MQTT (${err.message})`,
      advice:
        'is this an MQTT broker? Check the host and the port: MQTT is usually on 1883, MQTT over TLS on 8883',
    };
  if (err.code === 4 || err.code === 134) return { reason: 'bad user name or password' };
  if (err.code === 5 || err.code === 135) return { reason: 'not authorized' };
  if (typeof err.code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(err.code)) {
    return {
      reason: `its TLS certificate is not trusted (${err.code})`,
      advice: 'give the CA that signed it with --ca',
    };
  }
  return { reason: err.message };
}

/** Why a connection to the broker failed, as one line: the reason, then what to do. */
export function describeFailure(err: Error & { code?: string | number }): string {
  const { reason, advice } = failureWords(err);
  return advice === undefined ? reason : `${reason}; ${advice}`;
}
