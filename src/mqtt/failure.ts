/** Why a connection to the broker failed, as one line: shared by both ways of connecting. */
export function describeFailure(err: Error & { code?: string | number }): string {
  if (err.code === 'ECONNREFUSED')
    return 'connection refused (is a broker running? `room serve` starts one)';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return 'unknown host';
  if (err.code === 'ETIMEDOUT' || err.message === 'connack timeout')
    return 'no answer within the connect timeout (is this an MQTT broker?)';
  if (err.code === 4 || err.code === 134) return 'bad user name or password';
  if (err.code === 5 || err.code === 135) return 'not authorized';
  if (typeof err.code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(err.code)) {
    return `its TLS certificate is not trusted (${err.code}); give the CA that signed it with --ca`;
  }
  return err.message;
}
