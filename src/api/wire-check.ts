// Strict check of a protobuf message's wire format against its schema,
// run before protobufjs decodes it. protobufjs is lenient where a client's
// mistake should be refused: it reads a known field whatever its wire type
// (a length-delimited num_results is read as a varint, the rest of the
// field as more tags), and its Buffer reader cuts a string whose length runs
// past the end of the message instead of failing. This walk refuses both,
// plus truncated varints and fixed-width values, malformed or unbalanced
// groups, nesting deeper than MAX_DEPTH, field number 0, wire types 6 and 7
// and string fields that are not valid UTF-8. Unknown fields with a
// well-formed encoding are accepted (and skipped), as protobuf requires.
import { isUtf8 } from 'node:buffer';
import type * as protoLoader from '@grpc/proto-loader';

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32', 'invalid (6)', 'invalid (7)'];

/** Deepest nesting of messages and groups accepted (as the C++ parser's default recursion limit). */
export const MAX_DEPTH = 100;

interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
  options?: { packed?: boolean } | null;
}

interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
}

interface FieldRule {
  name: string;
  wire: number;
  /** Repeated numeric scalar: the packed form (length-delimited) is accepted too. */
  packable: boolean;
  utf8: boolean;
  /** Full name of the message type (message and group fields). */
  message?: string;
}

type Schema = Map<string, Map<number, FieldRule>>;

const WIRE_OF_TYPE: Record<string, number> = {
  TYPE_INT32: VARINT,
  TYPE_INT64: VARINT,
  TYPE_UINT32: VARINT,
  TYPE_UINT64: VARINT,
  TYPE_SINT32: VARINT,
  TYPE_SINT64: VARINT,
  TYPE_BOOL: VARINT,
  TYPE_ENUM: VARINT,
  TYPE_FIXED64: I64,
  TYPE_SFIXED64: I64,
  TYPE_DOUBLE: I64,
  TYPE_STRING: LEN,
  TYPE_BYTES: LEN,
  TYPE_MESSAGE: LEN,
  TYPE_GROUP: SGROUP,
  TYPE_FIXED32: I32,
  TYPE_SFIXED32: I32,
  TYPE_FLOAT: I32,
};

/** A message that does not match its schema's wire format: what is wrong, and where. */
export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireFormatError';
  }
}

/**
 * The wire rules of every message type of a package definition (as
 * @grpc/proto-loader builds it), by full name, nested types included.
 */
export function wireSchema(def: protoLoader.PackageDefinition): Schema {
  const descriptors = new Map<string, MessageDescriptor>();
  const add = (fullName: string, d: MessageDescriptor) => {
    descriptors.set(fullName, d);
    for (const n of d.nestedType ?? []) add(`${fullName}.${n.name}`, n);
  };
  for (const [name, entry] of Object.entries(def)) {
    const e = entry as { format?: string; type?: unknown };
    if (typeof e.format === 'string' && e.format.endsWith('DescriptorProto') && !e.format.includes('Enum')) add(name, e.type as MessageDescriptor);
  }
  // proto-loader's descriptors name types relative to the referring scope:
  // look the name up from the innermost scope outwards, as protoc does.
  const resolve = (scope: string, typeName: string): string | undefined => {
    if (typeName.startsWith('.')) return descriptors.has(typeName.slice(1)) ? typeName.slice(1) : undefined;
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      const candidate = s === '' ? typeName : `${s}.${typeName}`;
      if (descriptors.has(candidate)) return candidate;
      if (s === '') return undefined;
    }
  };
  const schema: Schema = new Map();
  for (const [fullName, d] of descriptors) {
    const rules = new Map<number, FieldRule>();
    for (const f of d.field ?? []) {
      const wire = WIRE_OF_TYPE[f.type];
      if (wire === undefined) continue;
      const rule: FieldRule = {
        name: f.name,
        wire,
        packable: f.label === 'LABEL_REPEATED' && wire !== LEN && wire !== SGROUP,
        utf8: f.type === 'TYPE_STRING',
      };
      if (f.type === 'TYPE_MESSAGE' || f.type === 'TYPE_GROUP') rule.message = resolve(fullName, f.typeName);
      rules.set(f.number, rule);
    }
    schema.set(fullName, rules);
  }
  return schema;
}

class Cursor {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    /** Nothing at or past this offset may be read (the end of the enclosing message). */
    readonly end: number,
  ) {}

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireFormatError(`${what} is truncated at byte ${this.pos}`);
      const b = this.buf[this.pos++];
      // Exact up to 2^53; larger values only matter as lengths, which the bounds check refuses.
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return value;
    }
    throw new WireFormatError(`${what} is a varint longer than 10 bytes at byte ${this.pos - 10}`);
  }

  skip(n: number, what: string): void {
    if (n > this.end - this.pos) throw new WireFormatError(`${what} needs ${n} bytes at byte ${this.pos}, ${this.end - this.pos} are left`);
    this.pos += n;
  }
}

/**
 * Checks `buf` as an encoding of message `typeName`; throws a WireFormatError
 * naming the field and byte offset of the first problem.
 */
export function checkWire(schema: Schema, typeName: string, buf: Uint8Array): void {
  walk(schema, typeName, new Cursor(buf, 0, buf.length), 1, undefined);
}

function fieldLabel(rule: FieldRule | undefined, number: number, typeName: string | undefined): string {
  return rule ? `field ${rule.name} (${number})` : `unknown field ${number}${typeName ? ` of ${typeName}` : ''}`;
}

/** Walks fields up to `end`, or up to the end-group tag of field `group`. */
function walk(schema: Schema, typeName: string | undefined, c: Cursor, depth: number, group: number | undefined): void {
  if (depth > MAX_DEPTH) throw new WireFormatError(`messages and groups are nested deeper than ${MAX_DEPTH} levels at byte ${c.pos}`);
  const rules = typeName ? schema.get(typeName) : undefined;
  while (c.pos < c.end) {
    const at = c.pos;
    const tag = c.varint('a field tag');
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (number === 0 || number > 0x1fffffff) throw new WireFormatError(`invalid field number ${number} at byte ${at}`);
    if (wire === EGROUP) {
      if (group === number) return;
      throw new WireFormatError(`an end-group tag for field ${number} at byte ${at} closes no open group`);
    }
    const rule = rules?.get(number);
    const label = fieldLabel(rule, number, typeName);
    if (rule && wire !== rule.wire && !(rule.packable && wire === LEN)) {
      throw new WireFormatError(`${label} has wire type ${WIRE_NAMES[wire]} at byte ${at}, expected ${WIRE_NAMES[rule.wire]}`);
    }
    switch (wire) {
      case VARINT:
        c.varint(label);
        break;
      case I64:
        c.skip(8, label);
        break;
      case I32:
        c.skip(4, label);
        break;
      case LEN: {
        const len = c.varint(`the length of ${label}`);
        const start = c.pos;
        c.skip(len, label);
        if (!rule) break;
        if (rule.message !== undefined) {
          // Bounded by the sub-message: nothing in it may read past its length.
          walk(schema, rule.message, new Cursor(c.buf, start, start + len), depth + 1, undefined);
        } else if (rule.utf8 && !validUtf8(c.buf, start, start + len)) {
          throw new WireFormatError(`${label} at byte ${at} is not valid UTF-8`);
        } else if (rule.packable) {
          checkPacked(rule, new Cursor(c.buf, start, start + len), label);
        }
        break;
      }
      case SGROUP:
        walk(schema, rule?.message, c, depth + 1, number);
        break;
      default:
        throw new WireFormatError(`${label} has invalid wire type ${wire} at byte ${at}`);
    }
  }
  if (group !== undefined) throw new WireFormatError(`group field ${group} has no end-group tag`);
}

function checkPacked(rule: FieldRule, c: Cursor, label: string): void {
  const offset = c.pos;
  if (rule.wire === VARINT) {
    while (c.pos < c.end) c.varint(`a packed value of ${label} (payload at byte ${offset})`);
    return;
  }
  const width = rule.wire === I64 ? 8 : 4;
  const bytes = c.end - c.pos;
  if (bytes % width !== 0) throw new WireFormatError(`packed ${label} at byte ${offset} holds ${bytes} bytes, not a multiple of ${width}`);
}

/** Whether buf[start, end) is valid UTF-8; ASCII (the common case) is checked here, the rest by Node. */
function validUtf8(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] >= 0x80) return isUtf8(buf.subarray(start, end));
  return true;
}
