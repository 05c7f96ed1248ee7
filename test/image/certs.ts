/** Throwaway X.509 material for provisioning tests (openssl, EC P-256, made at test time). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCert {
  certPem: string;
  keyPem: string;
}

export function makeCert(dir: string, name: string): TestCert {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-days', '2', '-keyout', key, '-out', crt], {
    stdio: 'ignore',
  });
  return { certPem: readFileSync(crt, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

/** A provisioning file as an operator writes it on the boot partition. */
export function provisionYaml(o: { deviceId: string; ca: TestCert; client: TestCert; psk?: string }): string {
  const block = (pem: string) =>
    pem
      .trim()
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n');
  return [
    `device_id: ${o.deviceId}`,
    'location: Denver',
    'wifi:',
    '  ssid: Depot-5G',
    `  psk: "${o.psk ?? 'correct horse battery'}"`,
    '  country: US',
    'broker:',
    '  url: mqtts://broker.example.net:8883',
    '  ca_pem: |',
    block(o.ca.certPem),
    'credentials:',
    '  client_cert_pem: |',
    block(o.client.certPem),
    '  client_key_pem: |',
    block(o.client.keyPem),
    '',
  ].join('\n');
}
