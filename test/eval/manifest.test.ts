/**
 * src/eval/manifest.ts: the three JSON shapes (list, { audio: text }, the shared corpus's), CSV with quoting,
 * a folder with .txt references; paths relative to the manifest; the language default; and the errors, each
 * naming the file and the entry.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseCsvManifest, parseJsonManifest, readManifest } from '../../src/eval/manifest';

const M = '/data/set/manifest.json';

describe('JSON manifests', () => {
  it('a list of { audio, text, language? }, paths relative to the manifest folder', () => {
    const m = parseJsonManifest(JSON.stringify([
      { audio: 'a.wav', text: 'one two' },
      { audio: '/abs/b.flac', text: '广州市', language: 'yue' },
      { audio: 'sub/c.mp3', text: '你好' },
    ]), M);
    expect(m.entries).toEqual([
      { audio: '/data/set/a.wav', text: 'one two', language: 'en' },
      { audio: '/abs/b.flac', text: '广州市', language: 'yue' },
      { audio: '/data/set/sub/c.mp3', text: '你好', language: 'zh' },
    ]);
  });

  it('an object { audio: text } (models/demo/samples/expected.json)', () => {
    const m = parseJsonManifest('{ "x.wav": "set an alarm", "y.wav": "" }', M);
    expect(m.entries).toEqual([
      { audio: '/data/set/x.wav', text: 'set an alarm', language: 'en' },
      { audio: '/data/set/y.wav', text: '', language: 'en' },
    ]);
  });

  it('the corpus manifest: "same as X" is X\'s transcript, transcript_kind "none" is skipped', () => {
    const m = parseJsonManifest(JSON.stringify({
      about: 'test',
      clips: [
        { file: 'audio/en-a.wav', lang: 'en', transcript: 'Ask not.', transcript_kind: 'human reference' },
        { file: 'audio/en-a.mp3', lang: 'en', transcript: 'same as en-a.wav', transcript_kind: 'human reference' },
        { file: 'audio/en-a-8k.wav', lang: 'en', transcript: 'same utterance as en-a.wav', transcript_kind: 'x' },
        { file: 'audio/yue.wav', lang: 'yue', transcript: '(no transcript known)', transcript_kind: 'none' },
      ],
    }), M);
    expect(m.entries.map((e) => [e.audio, e.text, e.language])).toEqual([
      ['/data/set/audio/en-a.wav', 'Ask not.', 'en'],
      ['/data/set/audio/en-a.mp3', 'Ask not.', 'en'],
      ['/data/set/audio/en-a-8k.wav', 'Ask not.', 'en'],
    ]);
    expect(m.skipped).toEqual([
      { audio: '/data/set/audio/yue.wav', reason: 'no reference transcript ((no transcript known))' },
    ]);
  });

  it('bad JSON manifests name the file, the entry and the problem', () => {
    const bad = (text: string, msg: RegExp) => {
      expect(() => parseJsonManifest(text, M)).toThrow(ManifestError);
      expect(() => parseJsonManifest(text, M)).toThrow(msg);
    };
    bad('[{"audio": "a.wav", "text": "x"},', /^\/data\/set\/manifest\.json: is not valid JSON/);
    bad('[{"audio": "a.wav"}]', /manifest\.json: entry 0: the reference text must be a string/);
    bad('[{"audio": "", "text": "x"}]', /entry 0: the audio path must be a non-empty string/);
    bad('[{"audio": "a.wav", "text": "x"}, {"audio": "b.wav", "text": "y", "language": "fr"}]',
      /entry 1: language must be one of en, zh, yue, got "fr"/);
    bad('[{"audio": "a.wav", "txt": "x", "text": "x"}]', /entry 0: unknown field "txt"/);
    bad('[["a.wav", "x"]]', /entry 0 must be an object/);
    bad('"a.wav"', /must hold a list of entries/);
    bad('{"x.wav": 3}', /entry "x.wav": the reference text must be a string/);
    bad('{"clips": [{"file": "a.wav", "transcript": "same as b.wav"}]}', /clips\[0\]: "same as b.wav" names no clip/);
  });
});

describe('CSV manifests', () => {
  it('header audio,text[,language] in any order; quoted fields with commas, quotes and newlines', () => {
    const csv = 'text,audio,language\r\n"one, two",a.wav,\n"say ""hi""\nthere",b.wav,en\n你好,c.wav,yue\n\n';
    expect(parseCsvManifest(csv, '/d/m.csv').entries).toEqual([
      { audio: '/d/a.wav', text: 'one, two', language: 'en' },
      { audio: '/d/b.wav', text: 'say "hi"\nthere', language: 'en' },
      { audio: '/d/c.wav', text: '你好', language: 'yue' },
    ]);
    expect(parseCsvManifest('audio,text\nx.wav,seven', '/d/m.csv').entries).toEqual([
      { audio: '/d/x.wav', text: 'seven', language: 'en' },
    ]);
  });

  it('bad CSV manifests name the file, the row and the problem', () => {
    const bad = (text: string, msg: RegExp) => expect(() => parseCsvManifest(text, '/d/m.csv')).toThrow(msg);
    bad('', /^\/d\/m\.csv: is empty/);
    bad('a.wav,seven\n', /line 1: header "a.wav,seven" \(the header must be audio,text/);
    bad('audio,text,speaker\nx.wav,one,me\n', /line 1: header/);
    bad('audio,text\n', /has a header but no rows/);
    bad('audio,text\nx.wav,one\ny.wav\n', /row 3: 1 fields where the header has 2/);
    bad('audio,text\nx.wav,"one\n', /line 2: a quoted field is not closed/);
    bad('audio,text\nx.wav,"one"two\n', /line 2: text after a closing quote/);
    bad('audio,text,language\nx.wav,one,de\n', /row 2: language must be one of en, zh, yue, got "de"/);
  });
});

describe('readManifest', () => {
  it('a folder: each audio file with the .txt of the same name beside it; by extension', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glm-asr-manifest-'));
    writeFileSync(join(dir, 'b.wav'), '');
    writeFileSync(join(dir, 'b.txt'), 'nine nine\n');
    writeFileSync(join(dir, 'a.FLAC'), '');
    writeFileSync(join(dir, 'a.txt'), '我想问');
    writeFileSync(join(dir, 'notes.md'), 'not audio');
    expect((await readManifest(dir)).entries).toEqual([
      { audio: join(dir, 'a.FLAC'), text: '我想问', language: 'zh' },
      { audio: join(dir, 'b.wav'), text: 'nine nine', language: 'en' },
    ]);
    writeFileSync(join(dir, 'c.mp3'), '');
    await expect(readManifest(dir)).rejects.toThrow(`${join(dir, 'c.mp3')}: has no reference text c.txt beside it`);
    const empty = mkdtempSync(join(tmpdir(), 'glm-asr-manifest-'));
    await expect(readManifest(empty)).rejects.toThrow(/holds no audio files/);
  });

  it('a file by its extension; a missing path or another extension is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'glm-asr-manifest-'));
    writeFileSync(join(dir, 'm.csv'), '\uFEFFaudio,text\nx.wav,one\n'); // a byte-order mark is skipped
    expect((await readManifest(join(dir, 'm.csv'))).entries).toEqual([
      { audio: join(dir, 'x.wav'), text: 'one', language: 'en' },
    ]);
    writeFileSync(join(dir, 'm.json'), '[{"audio": "y.wav", "text": "two"}]');
    expect((await readManifest(join(dir, 'm.json'))).entries[0].audio).toBe(join(dir, 'y.wav'));
    writeFileSync(join(dir, 'm.txt'), 'x');
    await expect(readManifest(join(dir, 'm.txt'))).rejects.toThrow(/m\.txt: is not a manifest/);
    await expect(readManifest(join(dir, 'nope.json'))).rejects.toThrow(/nope\.json: no such file or folder/);
  });
});
