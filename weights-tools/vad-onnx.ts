/**
 * A small ONNX (protobuf) reader: just enough of ModelProto to pull the Silero VAD weights out of its graph.
 * Reads nodes (op type, inputs, outputs, attributes, nested If/Loop graphs), initializers and Constant tensors.
 * Field numbers are onnx.proto3's; unknown fields are skipped by wire type.
 */

/** A tensor from the file: float tensors as Float32Array, integer ones as plain numbers (small shapes only). */
export interface OnnxTensor {
  name: string;
  dims: number[];
  /** onnx TensorProto.DataType: 1 FLOAT, 6 INT32, 7 INT64. */
  dataType: number;
  floats: Float32Array | null;
  ints: number[] | null;
}

export interface OnnxAttribute {
  name: string;
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  g?: OnnxGraph;
  ints?: number[];
  floats?: number[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
}

export class OnnxFormatError extends Error {
  constructor(file: string, message: string, offset: number) {
    super(`${file}: ${message} (byte offset ${offset})`);
    this.name = 'OnnxFormatError';
  }
}

const FLOAT = 1;
const INT32 = 6;
const INT64 = 7;

/** One protobuf message as a list of fields; length-delimited fields keep their byte span. */
interface Field {
  no: number;
  wire: number;
  value: number;
  start: number;
  end: number;
}

class Reader {
  constructor(
    readonly file: string,
    readonly bytes: Uint8Array,
  ) {}

  private varint(pos: { at: number }, end: number): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos.at >= end) throw new OnnxFormatError(this.file, 'varint runs past the end of its message', pos.at);
      const b = this.bytes[pos.at++];
      // Values here are sizes, ids and dims: exact as doubles up to 2^53 (negative int64 wraps are not used).
      result += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return result;
    }
    throw new OnnxFormatError(this.file, 'varint longer than 10 bytes', pos.at);
  }

  fields(start: number, end: number): Field[] {
    const out: Field[] = [];
    const pos = { at: start };
    while (pos.at < end) {
      const key = this.varint(pos, end);
      const no = Math.floor(key / 8);
      const wire = key % 8;
      const fieldStart = pos.at;
      if (wire === 0) {
        out.push({ no, wire, value: this.varint(pos, end), start: fieldStart, end: pos.at });
      } else if (wire === 2) {
        const len = this.varint(pos, end);
        if (pos.at + len > end) {
          throw new OnnxFormatError(this.file, `field ${no} of ${len} bytes runs past its message`, pos.at);
        }
        out.push({ no, wire, value: len, start: pos.at, end: pos.at + len });
        pos.at += len;
      } else if (wire === 5 || wire === 1) {
        const n = wire === 5 ? 4 : 8;
        if (pos.at + n > end) throw new OnnxFormatError(this.file, `field ${no} runs past its message`, pos.at);
        out.push({ no, wire, value: 0, start: pos.at, end: pos.at + n });
        pos.at += n;
      } else {
        throw new OnnxFormatError(this.file, `unsupported protobuf wire type ${wire} (field ${no})`, fieldStart);
      }
    }
    return out;
  }

  string(f: Field): string {
    return new TextDecoder().decode(this.bytes.subarray(f.start, f.end));
  }

  /** A repeated varint field, packed (wire 2) or not (wire 0). */
  pushVarints(f: Field, into: number[]): void {
    if (f.wire === 0) {
      into.push(f.value);
      return;
    }
    const pos = { at: f.start };
    while (pos.at < f.end) into.push(this.varint(pos, f.end));
  }

  float32(at: number): number {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + at, 4).getFloat32(0, true);
  }

  tensor(start: number, end: number): OnnxTensor {
    const t: OnnxTensor = { name: '', dims: [], dataType: 0, floats: null, ints: null };
    let raw: Field | null = null;
    const floatData: number[] = [];
    const intData: number[] = [];
    for (const f of this.fields(start, end)) {
      if (f.no === 1) this.pushVarints(f, t.dims);
      else if (f.no === 2) t.dataType = f.value;
      else if (f.no === 8) t.name = this.string(f);
      else if (f.no === 9) raw = f;
      else if (f.no === 4) {
        if (f.wire === 5) floatData.push(this.float32(f.start));
        else for (let p = f.start; p < f.end; p += 4) floatData.push(this.float32(p));
      } else if (f.no === 5 || f.no === 7) this.pushVarints(f, intData);
      else if (f.no === 14 && f.value === 1) {
        throw new OnnxFormatError(this.file, `tensor ${t.name} is stored externally`, f.start);
      }
    }
    const count = t.dims.reduce((a, b) => a * b, 1);
    if (t.dataType === FLOAT) {
      if (raw) {
        if (raw.end - raw.start !== count * 4) {
          const why = `tensor ${t.name}: ${raw.end - raw.start} raw bytes for ${count} floats`;
          throw new OnnxFormatError(this.file, why, raw.start);
        }
        t.floats = new Float32Array(count);
        for (let i = 0; i < count; i++) t.floats[i] = this.float32(raw.start + 4 * i);
      } else {
        if (floatData.length !== count) {
          const why = `tensor ${t.name}: ${floatData.length} floats for shape [${t.dims}]`;
          throw new OnnxFormatError(this.file, why, start);
        }
        t.floats = Float32Array.from(floatData);
      }
    } else if (t.dataType === INT64 || t.dataType === INT32) {
      if (raw) {
        const width = t.dataType === INT64 ? 8 : 4;
        const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + raw.start, raw.end - raw.start);
        t.ints = [];
        for (let p = 0; p < raw.end - raw.start; p += width) {
          t.ints.push(width === 8 ? Number(dv.getBigInt64(p, true)) : dv.getInt32(p, true));
        }
      } else {
        t.ints = intData;
      }
    }
    return t;
  }

  attribute(start: number, end: number): OnnxAttribute {
    const a: OnnxAttribute = { name: '' };
    for (const f of this.fields(start, end)) {
      if (f.no === 1) a.name = this.string(f);
      else if (f.no === 2) a.f = this.float32(f.start);
      else if (f.no === 3) a.i = f.value;
      else if (f.no === 4) a.s = this.string(f);
      else if (f.no === 5) a.t = this.tensor(f.start, f.end);
      else if (f.no === 6) a.g = this.graph(f.start, f.end);
      else if (f.no === 7) {
        a.floats ??= [];
        if (f.wire === 5) a.floats.push(this.float32(f.start));
        else for (let p = f.start; p < f.end; p += 4) a.floats.push(this.float32(p));
      } else if (f.no === 8) this.pushVarints(f, (a.ints ??= []));
    }
    return a;
  }

  node(start: number, end: number): OnnxNode {
    const n: OnnxNode = { name: '', opType: '', inputs: [], outputs: [], attributes: [] };
    for (const f of this.fields(start, end)) {
      if (f.no === 1) n.inputs.push(this.string(f));
      else if (f.no === 2) n.outputs.push(this.string(f));
      else if (f.no === 3) n.name = this.string(f);
      else if (f.no === 4) n.opType = this.string(f);
      else if (f.no === 5) n.attributes.push(this.attribute(f.start, f.end));
    }
    return n;
  }

  graph(start: number, end: number): OnnxGraph {
    const g: OnnxGraph = { name: '', nodes: [], initializers: [] };
    for (const f of this.fields(start, end)) {
      if (f.no === 1) g.nodes.push(this.node(f.start, f.end));
      else if (f.no === 2) g.name = this.string(f);
      else if (f.no === 5) g.initializers.push(this.tensor(f.start, f.end));
    }
    return g;
  }
}

/** Parse an ONNX model's main graph (ModelProto field 7). */
export function readOnnxGraph(bytes: Uint8Array, file: string): OnnxGraph {
  const r = new Reader(file, bytes);
  const graphField = r.fields(0, bytes.byteLength).find((f) => f.no === 7 && f.wire === 2);
  if (!graphField) throw new OnnxFormatError(file, 'no graph (ModelProto field 7): not an ONNX model?', 0);
  return r.graph(graphField.start, graphField.end);
}

/** Every float tensor in a graph and its subgraphs: initializers and Constant nodes' values, by output name. */
export function collectFloatTensors(g: OnnxGraph, into = new Map<string, OnnxTensor>()): Map<string, OnnxTensor> {
  for (const t of g.initializers) if (t.floats) into.set(t.name, t);
  for (const n of g.nodes) {
    for (const a of n.attributes) {
      if (n.opType === 'Constant' && a.name === 'value' && a.t?.floats) {
        into.set(n.outputs[0], { ...a.t, name: n.outputs[0] });
      }
      if (a.g) collectFloatTensors(a.g, into);
    }
  }
  return into;
}
