/**
 * The WGSL preprocessor: a deliberately tiny one. Shaders live in shaders/*.wgsl (bundled into
 * shader-sources.ts by scripts/bundle-shaders.mjs) and may use:
 *   #include "common.wgsl"          pasted once per shader, wherever it first appears
 *   #if NAME / #if !NAME / #else / #endif   (nestable; NAME is a boolean define)
 * Numbers (tile sizes, workgroup sizes) are WGSL `override` constants set at pipeline creation instead,
 * so the WGSL stays valid WGSL and no source is assembled from string fragments.
 */
import { SHADER_SOURCES } from './shader-sources';

export type Defines = Readonly<Record<string, boolean>>;

export class ShaderError extends Error {}

export function preprocess(name: string, defines: Defines = {},
  sources: Readonly<Record<string, string>> = SHADER_SOURCES): string {
  const included = new Set<string>();
  const out: string[] = [];

  const expand = (file: string, from: string) => {
    const src = sources[file];
    if (src === undefined) throw new ShaderError(`${from}: shader "${file}" not found in shaders/`);
    if (included.has(file)) return;
    included.add(file);
    // Stack of [taking lines?, has an #else been seen?] per open #if.
    const stack: { active: boolean; parentActive: boolean; sawElse: boolean; line: number }[] = [];
    const active = () => stack.every((s) => s.active);
    src.split('\n').forEach((text, i) => {
      const where = `${file}:${i + 1}`;
      const m = /^\s*#(\w+)\s*(.*?)\s*$/.exec(text);
      if (!m) {
        if (active()) out.push(text);
        return;
      }
      const [, directive, arg] = m;
      switch (directive) {
        case 'include': {
          const inc = /^"([^"]+)"$/.exec(arg);
          if (!inc) throw new ShaderError(`${where}: #include needs a quoted file name`);
          if (active()) expand(inc[1], where);
          return;
        }
        case 'if': {
          const c = /^(!?)(\w+)$/.exec(arg);
          if (!c) throw new ShaderError(`${where}: #if takes NAME or !NAME, got "${arg}"`);
          const value = defines[c[2]] === true;
          stack.push({ active: c[1] ? !value : value, parentActive: active(), sawElse: false, line: i + 1 });
          return;
        }
        case 'else': {
          const top = stack[stack.length - 1];
          if (!top || top.sawElse) throw new ShaderError(`${where}: #else without #if`);
          top.active = !top.active;
          top.sawElse = true;
          return;
        }
        case 'endif':
          if (!stack.pop()) throw new ShaderError(`${where}: #endif without #if`);
          return;
        default:
          throw new ShaderError(`${where}: unknown directive #${directive}`);
      }
    });
    if (stack.length) throw new ShaderError(`${file}:${stack[stack.length - 1].line}: #if without #endif`);
  };

  expand(name, 'preprocess');
  return out.join('\n');
}
