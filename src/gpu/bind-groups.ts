/**
 * Bind groups cached by their exact contents (pipeline, and per entry: buffer, offset, size). A decode step
 * re-records the same dispatches over the same pooled buffers and the same uniform offsets, so from the second
 * step on every bind group is a hit and `createBindGroup` (a validating driver call per dispatch) disappears from
 * the step. Least-recently-used entries beyond `capacity` are dropped; an entry that names a destroyed buffer is
 * never asked for again (a new buffer gets a new id) and ages out. A hit keeps the label of the dispatch that
 * created it, so labels should name the operation, not one dispatch of it.
 */
export class BindGroupCache {
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private readonly groups = new Map<string, GPUBindGroup>();
  hits = 0;
  misses = 0;

  constructor(private readonly device: GPUDevice, readonly capacity = 8192, public enabled = true) {}

  private id(o: object): number {
    let i = this.ids.get(o);
    if (i === undefined) {
      i = this.nextId++;
      this.ids.set(o, i);
    }
    return i;
  }

  get(pipeline: GPUComputePipeline, entries: readonly { binding: number; resource: GPUBufferBinding }[],
    label: string): GPUBindGroup {
    const create = () => this.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0),
      entries: entries as GPUBindGroupEntry[] });
    if (!this.enabled) return create();
    let key = String(this.id(pipeline));
    for (const e of entries) {
      key += `|${e.binding}:${this.id(e.resource.buffer)}:${e.resource.offset ?? 0}:${e.resource.size ?? -1}`;
    }
    const hit = this.groups.get(key);
    if (hit) {
      this.hits++;
      this.groups.delete(key); // move to the most-recent end
      this.groups.set(key, hit);
      return hit;
    }
    this.misses++;
    const g = create();
    this.groups.set(key, g);
    if (this.groups.size > this.capacity) this.groups.delete(this.groups.keys().next().value!);
    return g;
  }

  clear(): void {
    this.groups.clear();
  }
}
