// The proto3 JSON mapping of the service's messages, for the HTTP gateway.
// Parsing and printing are @bufbuild/protobuf's (conformance-tested: unknown
// fields, wrong types and unknown enum values are refused; field names are
// accepted as in the proto or as lowerCamelCase JSON names, enums by name or
// number, 64-bit integers and floats as numbers or strings). A parsed request
// is encoded to the wire format and decoded by the same @grpc/proto-loader
// deserializer that grpc-js uses, so validation sees exactly what a gRPC call
// would hand it.
//
// The schema is the FileDescriptorProto that @grpc/proto-loader builds from
// the .proto (the one server reflection serves). protobufjs writes it with
// type names relative to their scope and without json_name; both are filled
// in here as protoc would (fully qualified names, default JSON names).
import { create, createFileRegistry, fromBinary, fromJson, toBinary, toJson } from '@bufbuild/protobuf';
import type { DescEnum, DescField, DescMessage, JsonValue } from '@bufbuild/protobuf';
import { protoCamelCase } from '@bufbuild/protobuf/reflect';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { DescriptorProto, FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';

import { invalid } from './errors';

/** How response field names are printed: as in the proto (`item_id`) or as JSON names (`itemId`). */
export type JsonFieldNames = 'proto' | 'json';

export interface JsonCodec {
  /**
   * A proto3 JSON request of `method` as grpc-js would hand it to the handler.
   * Throws INVALID_FIELD naming the field (`context.surface`) when the JSON
   * does not map onto the request message.
   */
  request(method: string, json: unknown): unknown;
  /** A handler's response object of `method` (as grpc-js would serialize it) in proto3 JSON. */
  response(method: string, res: object, names: JsonFieldNames): JsonValue;
}

interface Method {
  input: DescMessage;
  output: DescMessage;
  grpc: MethodDefinition<object, object>;
}

/** The JSON codec of service `serviceName` (fully qualified) in a loaded package definition. */
export function createJsonCodec(def: PackageDefinition, serviceName: string): JsonCodec {
  const service = def[serviceName] as Record<string, MethodDefinition<object, object>> | undefined;
  const first = service && Object.values(service)[0];
  if (!first) throw new Error(`${serviceName} is not a service of the package definition`);
  const files = first.requestType.fileDescriptorProtos.map((b) => fromBinary(FileDescriptorProtoSchema, b));
  qualify(files);
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: files }));
  const desc = registry.getService(serviceName);
  if (!desc) throw new Error(`${serviceName} is missing from its file descriptor`);
  const methods = new Map<string, Method>();
  for (const m of desc.methods) {
    const grpc = service[m.name];
    if (grpc) methods.set(m.name, { input: m.input, output: m.output, grpc });
  }
  const method = (name: string): Method => {
    const m = methods.get(name);
    if (!m) throw new Error(`${serviceName} has no method ${name}`);
    return m;
  };

  return {
    request(name, json) {
      const m = method(name);
      let message;
      try {
        message = fromJson(m.input, json as JsonValue);
      } catch (err) {
        const p = locate(m.input, json, '') ?? { path: 'request body', problem: (err as Error).message };
        throw invalid(p.path, p.problem);
      }
      return m.grpc.requestDeserialize(Buffer.from(toBinary(m.input, message)));
    },
    response(name, res, names) {
      const m = method(name);
      const message = fromBinary(m.output, m.grpc.responseSerialize(res));
      return toJson(m.output, message, { useProtoFieldName: names === 'proto', alwaysEmitImplicit: true });
    },
  };
}

/** Makes every type name fully qualified and gives every field its default JSON name. */
function qualify(files: FileDescriptorProto[]): void {
  const known = new Set<string>();
  const collect = (scope: string, messages: DescriptorProto[], enums: { name: string }[]): void => {
    for (const e of enums) known.add(`${scope}.${e.name}`);
    for (const m of messages) {
      known.add(`${scope}.${m.name}`);
      collect(`${scope}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  const root = (f: FileDescriptorProto): string => (f.package ? `.${f.package}` : '');
  for (const f of files) collect(root(f), f.messageType, f.enumType);
  // Protobuf scoping: innermost scope first, then each enclosing one.
  const resolve = (scope: string, name: string): string => {
    if (name === '' || name.startsWith('.')) return name;
    const parts = scope.split('.');
    for (let i = parts.length; i >= 1; i--) {
      const candidate = `${parts.slice(0, i).join('.')}.${name}`;
      if (known.has(candidate)) return candidate;
    }
    throw new Error(`type ${name} (referenced in ${scope.slice(1)}) is not defined`);
  };
  const fix = (scope: string, m: DescriptorProto): void => {
    const inner = `${scope}.${m.name}`;
    for (const f of m.field) {
      if (!f.jsonName) f.jsonName = protoCamelCase(f.name);
      f.typeName = resolve(inner, f.typeName);
    }
    for (const n of m.nestedType) fix(inner, n);
  };
  for (const f of files) {
    for (const m of f.messageType) fix(root(f), m);
    for (const s of f.service) {
      for (const m of s.method) {
        m.inputType = resolve(root(f), m.inputType);
        m.outputType = resolve(root(f), m.outputType);
      }
    }
  }
}

interface Problem {
  path: string;
  problem: string;
}

/**
 * The first member of `json` that does not map onto `desc`, with its path
 * (`recent_actions[2].type`, proto field names) and what is wrong with it.
 * The structure is walked here; each scalar, enum or list item is judged by
 * fromJson on its own.
 */
function locate(desc: DescMessage, json: unknown, path: string): Problem | undefined {
  const at = (name: string): string => (path === '' ? name : `${path}.${name}`);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { path: path === '' ? 'request body' : path, problem: `must be a JSON object (message ${desc.typeName}), got ${show(json)}` };
  }
  const byKey = new Map<string, DescField>();
  for (const f of desc.fields) byKey.set(f.name, f).set(f.jsonName, f);
  const seen = new Set<DescField>();
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const field = byKey.get(key);
    if (!field) return { path: at(key), problem: `unknown field of ${desc.typeName} (fields: ${desc.fields.map((f) => f.name).join(', ')})` };
    const here = at(field.name);
    if (seen.has(field)) return { path: here, problem: `is given twice (as ${field.name} and as ${field.jsonName})` };
    seen.add(field);
    if (value === null) continue; // null is the field's default value
    const p = locateField(desc, field, key, value, here);
    if (p) return p;
  }
  return undefined;
}

function locateField(desc: DescMessage, field: DescField, key: string, value: unknown, path: string): Problem | undefined {
  /** fromJson's verdict on the field holding `v` alone; `raw` is the value the client wrote at `where`. */
  const alone = (v: unknown, where: string, raw: unknown): Problem | undefined => {
    try {
      fromJson(desc, { [key]: v } as JsonValue);
      return undefined;
    } catch (err) {
      return { path: where, problem: describe(field, err, raw) };
    }
  };
  switch (field.fieldKind) {
    case 'message':
      return locate(field.message, value, path);
    case 'list': {
      if (!Array.isArray(value)) return { path, problem: `must be a JSON array, got ${show(value)}` };
      for (let i = 0; i < value.length; i++) {
        const where = `${path}[${i}]`;
        const item: unknown = value[i];
        if (item === null) return { path: where, problem: 'must not be null' };
        const p = field.listKind === 'message' ? locate(field.message, item, where) : alone([item], where, item);
        if (p) return p;
      }
      return undefined;
    }
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) return { path, problem: `must be a JSON object, got ${show(value)}` };
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const where = `${path}[${JSON.stringify(k)}]`;
        const p = field.mapKind === 'message' && v !== null ? locate(field.message, v, where) : alone({ [k]: v }, where, v);
        if (p) return p;
      }
      return undefined;
    }
    default:
      return alone(value, path, value);
  }
}

/** What fromJson refused about one value, in words that do not repeat the path. */
function describe(field: DescField, err: unknown, value: unknown): string {
  const e = field.fieldKind === 'enum' ? field.enum : field.fieldKind === 'list' && field.listKind === 'enum' ? field.enum : field.fieldKind === 'map' && field.mapKind === 'enum' ? field.enum : undefined;
  if (e && (typeof value === 'string' || typeof value === 'number')) return unknownEnum(e, value);
  const cause = (err as { cause?: unknown }).cause;
  const text = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  // "list item #1: expected string, got 1" -> "expected string, got 1" (the path has the index).
  return text.replace(/^(list item #\d+|map entry "[^"]*"): /, '');
}

function unknownEnum(e: DescEnum, value: unknown): string {
  return `unknown value ${show(value)} of enum ${e.typeName} (values: ${e.values.map((v) => v.name).join(', ')}, or their numbers)`;
}

/** A JSON value as it appeared in the request (shortened). */
function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
