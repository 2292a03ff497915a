import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';

import { RankingClient } from '../../src/client';
import type { Engine } from '../../src/pipeline/engine';
import { createMetrics } from '../../src/metrics/metrics';
import { RankingService } from '../../src/api/service';
import { bearer, silentLogger } from './harness';

/**
 * Made with openssl: a CA; a server certificate for 127.0.0.1/localhost;
 * client certificates signed by the CA: "client" (CN ranking-client),
 * "admin" (CN ops-admin), "deployer" (CN build-bot, SAN DNS
 * deployer.internal); and "rogue", self-signed with CN ops-admin.
 */
function makeCerts(dir: string): void {
  const sh = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  sh('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca');
  const issued: [string, string, string][] = [
    ['server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n'],
    ['client', 'ranking-client', 'extendedKeyUsage=clientAuth\n'],
    ['admin', 'ops-admin', 'extendedKeyUsage=clientAuth\n'],
    ['deployer', 'build-bot', 'extendedKeyUsage=clientAuth\nsubjectAltName=DNS:deployer.internal,IP:10.0.0.7\n'],
  ];
  for (const [who, cn, extensions] of issued) {
    sh('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${cn}`);
    const ext = path.join(dir, `${who}.ext`);
    writeFileSync(ext, extensions);
    sh('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', ext);
  }
  sh('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.pem', '-days', '2', '-subj', '/CN=ops-admin', '-addext', 'extendedKeyUsage=clientAuth');
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

/** Just enough of an Engine for DeleteItems (logged with the bundle's version and createdAt): records the ids it was asked to delete. */
function stubEngine(deleted: string[][]): Engine {
  return {
    catalog: { itemCount: 10 },
    version: 'stub',
    bundle: { manifest: { createdAt: '2026-01-01T00:00:00.000Z' } },
    async deleteItems(ids: string[]) {
      deleted.push(ids);
      return { deleted: ids.length, unknown: [] };
    },
  } as unknown as Engine;
}

/**
 * A fixed CA and server certificate through grpc-js's certificate-provider
 * interface (the one way to make client certificates optional). Updates are
 * delivered on the next turn, as a file watcher would: the server only
 * listens for them after registering.
 */
function staticProvider(ca: Buffer, cert: Buffer, key: Buffer): grpc.experimental.CertificateProvider {
  return {
    addCaCertificateListener: (l) => setImmediate(() => l({ caCertificate: ca })),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (l) => setImmediate(() => l({ certificate: cert, privateKey: key })),
    removeIdentityCertificateListener: () => undefined,
  };
}

describe('admin calls authorised by client certificate identity (mutual TLS)', function () {
  this.timeout(60_000);
  const TOKEN = 'admin-token-42';
  const ADMINS = ['ops-admin', 'deployer.internal'];
  let dir: string;
  const read = (f: string) => readFileSync(path.join(dir, f));
  const services: RankingService[] = [];
  const clients: RankingClient[] = [];
  let deleted: string[][] = [];
  let mtls: RankingService; // client certificates required; ADMINS allowed; TOKEN too
  let mtlsNoNames: RankingService; // client certificates required; TOKEN only
  let optional: RankingService; // client certificates optional; ADMINS allowed; TOKEN too
  let namesOnly: RankingService; // client certificates required; ADMINS allowed; no token configured

  async function serve(credentials: grpc.ServerCredentials, admin: { token: string } | 'disabled', adminClientNames?: string[]): Promise<RankingService> {
    const service = new RankingService({
      host: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      admin,
      adminClientNames,
      credentials,
    });
    services.push(service);
    await service.start();
    service.setEngine(stubEngine(deleted));
    return service;
  }

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank-tls-admin-'));
    makeCerts(dir);
    const required = () => grpc.ServerCredentials.createSsl(read('ca.pem'), [{ private_key: read('server.key'), cert_chain: read('server.pem') }], true);
    mtls = await serve(required(), { token: TOKEN }, ADMINS);
    mtlsNoNames = await serve(required(), { token: TOKEN });
    namesOnly = await serve(required(), 'disabled', ADMINS);
    const provider = staticProvider(read('ca.pem'), read('server.pem'), read('server.key'));
    optional = await serve(grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false), { token: TOKEN }, ADMINS);
  });
  beforeEach(() => {
    deleted = [];
    for (const s of services) s.setEngine(stubEngine(deleted));
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(services.map((s) => s.stop(500)));
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** An admin client presenting the named certificate ("" for none) to the service. */
  function client(service: RankingService, who: string): RankingClient {
    const credentials = who ? grpc.credentials.createSsl(read('ca.pem'), read(`${who}.key`), read(`${who}.pem`)) : grpc.credentials.createSsl(read('ca.pem'));
    const c = new RankingClient(`localhost:${service.grpcPort}`, { credentials, deadlineMs: 10_000 });
    clients.push(c);
    return c;
  }

  /** The call's status name ("OK" or a gRPC code), with its message. */
  function outcome<Res>(call: Promise<Res>): Promise<{ status: string; details: string; res?: Res }> {
    return call.then(
      (res) => ({ status: 'OK', details: '', res }),
      (err: grpc.ServiceError) => ({ status: grpc.status[err.code], details: err.details }),
    );
  }

  const del = (c: RankingClient, token?: string) => outcome(c.deleteItems({ item_ids: ['i1', 'i2'] }, bearer(token)));

  it('lets a certificate whose subject CN is listed make admin calls without a token', async () => {
    const r = await del(client(mtls, 'admin'));
    assert.equal(r.status, 'OK', r.details);
    assert.equal(r.res?.deleted, 2);
    assert.deepEqual(deleted, [['i1', 'i2']]);
  });

  it('lets a certificate whose SAN DNS name is listed make admin calls (its CN is not listed)', async () => {
    const r = await del(client(mtls, 'deployer'));
    assert.equal(r.status, 'OK', r.details);
    assert.deepEqual(deleted, [['i1', 'i2']]);
  });

  it('refuses a valid certificate with another identity: PERMISSION_DENIED on every admin call', async () => {
    const c = client(mtls, 'client');
    const r = await del(c);
    assert.equal(r.status, 'PERMISSION_DENIED');
    assert.match(r.details, /ranking-client.*not an admin identity/);
    assert.equal((await outcome(c.upsertItems({ items: [] }))).status, 'PERMISSION_DENIED');
    assert.equal((await outcome(c.reloadBundle({ path: 'b' }))).status, 'PERMISSION_DENIED');
    assert.deepEqual(deleted, [], 'a refused call must not reach the engine');
  });

  it('accepts such a certificate with the right bearer token, and refuses it with a wrong one', async () => {
    const c = client(mtls, 'client');
    assert.equal((await del(c, TOKEN)).status, 'OK');
    assert.equal((await del(c, 'not-the-token')).status, 'PERMISSION_DENIED');
    assert.deepEqual(deleted, [['i1', 'i2']]);
  });

  it('trusts no certificate identity when no client names are configured (token only)', async () => {
    assert.equal((await del(client(mtlsNoNames, 'admin'))).status, 'UNAUTHENTICATED');
    assert.equal((await del(client(mtlsNoNames, 'admin'), TOKEN)).status, 'OK');
    assert.deepEqual(deleted, [['i1', 'i2']]);
  });

  it('with client names but no token configured: the certificate is the only way in', async () => {
    assert.equal((await del(client(namesOnly, 'admin'))).status, 'OK');
    assert.equal((await del(client(namesOnly, 'client'))).status, 'PERMISSION_DENIED');
    assert.equal((await del(client(namesOnly, 'client'), TOKEN)).status, 'PERMISSION_DENIED');
    assert.deepEqual(deleted, [['i1', 'i2']]);
  });

  it('without credentials (no client certificate, no token): UNAUTHENTICATED', async () => {
    const r = await del(client(optional, ''));
    assert.equal(r.status, 'UNAUTHENTICATED');
    assert.match(r.details, /admin client certificate/);
    assert.equal((await del(client(optional, 'admin'))).status, 'OK', 'the same server accepts an admin certificate');
    assert.deepEqual(deleted, [['i1', 'i2']]);
  });

  it('ignores the names in a certificate the CA did not sign', async () => {
    // The rogue certificate claims CN=ops-admin; the TLS layer does not verify
    // it, so it names nobody: the call has no credentials.
    assert.equal((await del(client(optional, 'rogue'))).status, 'UNAUTHENTICATED');
    assert.equal((await del(client(mtls, 'rogue'))).status, 'UNAVAILABLE', 'refused at the handshake when certificates are required');
    assert.deepEqual(deleted, []);
  });
});
