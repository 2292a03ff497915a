import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';

import { createMetrics } from '../../src/server/metrics';
import { RankingService } from '../../src/server/service';
import { silentLogger } from './harness';

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
function makeCerts(dir: string): void {
  const sh = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  sh('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca');
  for (const who of ['server', 'client']) {
    sh('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? 'localhost' : 'ranking-client'}`);
    const ext = path.join(dir, `${who}.ext`);
    writeFileSync(ext, who === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
    sh('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', ext);
  }
}

describe('server TLS and mutual TLS', function () {
  this.timeout(60_000);
  let dir: string;
  let service: RankingService;
  const read = (f: string) => readFileSync(path.join(dir, f));

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-tls-'));
    makeCerts(dir);
    service = new RankingService({
      host: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      credentials: grpc.ServerCredentials.createSsl(read('ca.pem'), [{ private_key: read('server.key'), cert_chain: read('server.pem') }], true),
    });
    await service.start();
  });
  after(async () => {
    await service.stop(500);
    await fs.rm(dir, { recursive: true, force: true });
  });

  function check(creds: grpc.ChannelCredentials): Promise<string> {
    const client = new grpc.Client(`localhost:${service.grpcPort}`, creds);
    return new Promise<string>((resolve) => {
      client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        () => Buffer.alloc(0), // an empty HealthCheckRequest: the overall status
        (b: Buffer) => b,
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + 5000 },
        (err) => {
          client.close();
          resolve(err ? grpc.status[err.code] : 'OK');
        },
      );
    });
  }

  it('serves clients that present a certificate signed by the CA', async () => {
    const status = await check(grpc.credentials.createSsl(read('ca.pem'), read('client.key'), read('client.pem')));
    assert.equal(status, 'OK');
  });

  it('refuses clients without a certificate, and plaintext clients', async () => {
    assert.equal(await check(grpc.credentials.createSsl(read('ca.pem'))), 'UNAVAILABLE');
    assert.equal(await check(grpc.credentials.createInsecure()), 'UNAVAILABLE');
  });
});
