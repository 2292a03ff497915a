// A minimal ONNX graph builder on the protobufjs schema of onnx-proto:
// float/int64 initializers, nodes with typed attributes, inputs and outputs
// with static or symbolic dimensions, serialised as an opset-17 IR-8 model.
import * as os from 'node:os';
import { onnx } from 'onnx-proto';

export const OPSET = 17;
export const IR_VERSION = 8;

/** A tensor dimension: a fixed size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

export type ElemType = 'float32' | 'int64';

const ELEM: Record<ElemType, onnx.TensorProto.DataType> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

/** A node attribute with its ONNX type made explicit (1 vs 1.0 matters). */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
};

function attributeProto(name: string, a: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      if (!Number.isSafeInteger(a.value)) throw new RangeError(`attribute ${name}: ${a.value} is not an integer`);
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

function valueInfo(name: string, shape: readonly Dim[], elem: ElemType): onnx.IValueInfoProto {
  const dim = shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: ELEM[elem], shape: { dim } } } };
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian, as are the typed arrays on LE hosts.
  if (os.endianness() !== 'LE') throw new Error('the ONNX writer supports little-endian hosts only');
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export interface ModelOptions {
  producerName?: string;
  docString?: string;
  /** Written into the model's metadata_props. */
  metadata?: Record<string, string>;
}

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly inits: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name with the given prefix. */
  fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.names.has(n));
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX value name '${name}' is already used`);
    this.names.add(name);
    return name;
  }

  input(name: string, shape: readonly Dim[], elem: ElemType = 'float32'): string {
    this.inputs.push(valueInfo(this.claim(name), shape, elem));
    return name;
  }

  /** Declares an existing value (a node output) as a graph output. */
  output(name: string, shape: readonly Dim[], elem: ElemType = 'float32'): string {
    if (!this.names.has(name)) throw new Error(`graph output '${name}' is not produced by the graph`);
    this.outputs.push(valueInfo(name, shape, elem));
    return name;
  }

  /** A float32 constant; dims must multiply to data.length. */
  initializer(name: string, data: Float32Array, dims: readonly number[]): string {
    return this.tensor(name, data, dims, 'float32');
  }

  initializerInt64(name: string, data: readonly number[], dims: readonly number[] = [data.length]): string {
    return this.tensor(name, BigInt64Array.from(data, (v) => BigInt(v)), dims, 'int64');
  }

  private tensor(name: string, data: Float32Array | BigInt64Array, dims: readonly number[], elem: ElemType): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new RangeError(`initializer ${name}: dims [${dims}] hold ${n} values, got ${data.length}`);
    this.inits.push({ name: this.claim(name), dims: [...dims], dataType: ELEM[elem], rawData: bytesOf(data) });
    return name;
  }

  /**
   * Appends a node. `outputs` is a list of names or a count of fresh names;
   * an empty input name marks an omitted optional input. Returns the outputs.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attrs: Record<string, Attr> = {},
  ): string[] {
    for (const i of inputs) {
      if (i !== '' && !this.names.has(i)) throw new Error(`${opType}: input '${i}' is not defined yet`);
    }
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.claim(this.fresh(opType.toLowerCase())))
        : outputs.map((o) => this.claim(o));
    this.nodes.push({
      opType,
      name: this.fresh(`n_${opType}`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
    });
    return outs;
  }

  /** A single-output node; `out` names the output (else a fresh name). */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, out?: string): string {
    return this.node(opType, inputs, out === undefined ? 1 : [out], attrs)[0];
  }

  toModel(opts: ModelOptions = {}): onnx.IModelProto {
    if (this.outputs.length === 0) throw new Error('the graph has no outputs');
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: opts.producerName ?? 'ranking-engine',
      docString: opts.docString ?? '',
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    };
  }

  /** The serialised ModelProto. */
  serialize(opts: ModelOptions = {}): Uint8Array {
    return onnx.ModelProto.encode(onnx.ModelProto.create(this.toModel(opts))).finish();
  }
}
