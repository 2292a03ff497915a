import { strict as assert } from 'node:assert';

import { createMetrics } from '../../src/metrics/metrics';
import { RankingService, SERVICE_NAME } from '../../src/api/service';
import { reflectionFilesOfSymbol, reflectionListServices, startService } from './harness';

// Every service the server runs, and the file reflection must name for it.
const SERVED: [string, string][] = [
  [SERVICE_NAME, 'ranking/v1/ranking.proto'],
  ['grpc.health.v1.Health', 'grpc/health/v1/health.proto'],
  ['grpc.reflection.v1.ServerReflection', 'grpc/reflection/v1/reflection.proto'],
  ['grpc.reflection.v1alpha.ServerReflection', 'grpc/reflection/v1alpha/reflection.proto'],
];

describe('server reflection: every served service, under its file name', function () {
  this.timeout(30_000);
  let service: RankingService;
  let address: string;
  before(async () => {
    service = await startService(createMetrics({ defaultMetrics: false }));
    address = `127.0.0.1:${service.grpcPort}`;
  });
  after(async () => {
    await service?.stop(1000);
  });

  for (const version of ['v1', 'v1alpha'] as const) {
    it(`${version}: lists exactly the services the server runs`, async () => {
      const names = await reflectionListServices(address, version);
      assert.deepEqual([...names].sort(), SERVED.map(([s]) => s).sort());
    });

    it(`${version}: resolves each service to its proto file`, async () => {
      for (const [symbol, file] of SERVED) {
        const files = await reflectionFilesOfSymbol(address, symbol, version);
        assert.equal(files[0], file, `${symbol}: ${files.join(', ')}`);
      }
    });
  }

  it('resolves methods and messages of the ranking and health services', async () => {
    for (const [symbol, file] of [
      [`${SERVICE_NAME}.Rank`, 'ranking/v1/ranking.proto'],
      ['ranking.v1.RankRequest', 'ranking/v1/ranking.proto'],
      ['ranking.v1.Surface', 'ranking/v1/ranking.proto'],
      ['grpc.health.v1.Health.Check', 'grpc/health/v1/health.proto'],
      ['grpc.health.v1.HealthCheckResponse', 'grpc/health/v1/health.proto'],
    ]) {
      assert.deepEqual(await reflectionFilesOfSymbol(address, symbol), [file], symbol);
    }
    await assert.rejects(reflectionFilesOfSymbol(address, 'no.such.Symbol'), /Symbol not found/);
  });
});
