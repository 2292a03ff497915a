// The package definition that server reflection describes: every service the
// gRPC server runs (ranking.v1.RankingService, grpc.health.v1.Health and the
// reflection services themselves), each in a file named by its real path.
//
// @grpc/proto-loader names the file descriptors of a definition after their
// package ("ranking_v1.proto"); reflection serves those descriptors as they
// are. namedDefinition() loads each proto and renames its file descriptor
// (decoded and re-encoded with descriptor.proto, which proto-loader ships).
// The services themselves are served from their usual definitions.
import * as path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

import { LOADER_OPTIONS, PROTO_ROOT } from './proto';

export interface ProtoSource {
  /** The file's name in reflection: its path relative to the proto root it belongs to. */
  name: string;
  /** Where it is on disk. */
  file: string;
}

export const REFLECTION_PROTOS = path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto');
const HEALTH_PROTO = path.join(path.dirname(require.resolve('grpc-health-check')), '..', '..', 'proto', 'health', 'v1', 'health.proto');

/** The protos of the services the server runs. */
export const SERVED_PROTOS: readonly ProtoSource[] = [
  { name: 'ranking/v1/ranking.proto', file: path.join(PROTO_ROOT, 'ranking', 'v1', 'ranking.proto') },
  // grpc-health-check ships it as health/v1/health.proto; its name upstream is:
  { name: 'grpc/health/v1/health.proto', file: HEALTH_PROTO },
  { name: 'grpc/reflection/v1/reflection.proto', file: path.join(REFLECTION_PROTOS, 'grpc', 'reflection', 'v1', 'reflection.proto') },
  { name: 'grpc/reflection/v1alpha/reflection.proto', file: path.join(REFLECTION_PROTOS, 'grpc', 'reflection', 'v1alpha', 'reflection.proto') },
];

interface FileDescriptor {
  name?: string;
  package?: string;
  dependency?: string[];
}

/**
 * One package definition of `sources`, its file descriptors named as given.
 * Each source must be a single package without imports (as the served
 * protos are).
 */
export function namedDefinition(sources: readonly ProtoSource[] = SERVED_PROTOS): protoLoader.PackageDefinition {
  const descriptors = protoLoader.loadSync('google/protobuf/descriptor.proto', { keepCase: false, longs: Number, enums: String, defaults: false });
  const fileType = descriptors['google.protobuf.FileDescriptorProto'] as protoLoader.MessageTypeDefinition<object, object>;
  const named: protoLoader.PackageDefinition = {};
  for (const src of sources) {
    const def = protoLoader.loadSync(src.file, LOADER_OPTIONS);
    const files = new Set<Buffer>();
    for (const d of Object.values(def)) for (const b of (d as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) files.add(b);
    if (files.size !== 1) throw new Error(`${src.file}: expected one package and no imports, got ${files.size} files`);
    const file = fileType.deserialize([...files][0]) as FileDescriptor;
    if (file.dependency && file.dependency.length > 0) throw new Error(`${src.file}: imports are not supported here (${file.dependency.join(', ')})`);
    const renamed = [fileType.serialize({ ...file, name: src.name })];
    for (const [name, d] of Object.entries(def)) {
      if (name in named) throw new Error(`${src.file}: ${name} is defined twice`);
      // Message and enum definitions carry the file descriptors (services do not).
      named[name] = 'fileDescriptorProtos' in d ? ({ ...d, fileDescriptorProtos: renamed } as typeof d) : d;
    }
  }
  return named;
}
