'use strict';
// Deterministic generator of varied text lines for tokenizer golden fixtures.
// Every choice comes from a seeded PRNG, so the same seed and the same source files give the same lines.

const fs = require('fs');
const path = require('path');

/** mulberry32: small seeded PRNG returning floats in [0, 1). */
function rng(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function listFiles(dir, ext, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      if (name === 'bin' || name === 'obj' || name === 'node_modules') continue;
      listFiles(p, ext, out);
    } else if (name.endsWith(ext)) out.push(p);
  }
  return out;
}

function readLines(files) {
  const lines = [];
  for (const f of files) for (const l of fs.readFileSync(f, 'utf8').split('\n')) lines.push(l.replace(/\r$/, ''));
  return lines;
}

const PROSE_EXTRA = [
  "The quick brown fox jumps over the lazy dog.",
  "It's a truth universally acknowledged that a model in possession of good data must be in want of a tokenizer.",
  "She said, \"I'll be there at 5 o'clock — don't wait!\"",
  "We've tested it; they'd agree, you'll see, and I'm sure he's right.",
  "DON'T SHOUT. I'M LISTENING. WE'LL SEE. IT'S FINE. THEY'VE GONE. HE'D KNOW.",
  "Rock 'n' roll, the '90s, ’tis the season, O’Brien’s café.",
  "Tokenization splits text into pieces; byte-level BPE never meets an unknown character.",
  "Ceci n'est pas une pipe. L'été dernier, à Paris, il faisait très chaud.",
  "Über den Wolken muss die Freiheit wohl grenzenlos sein. Straße, Größe, Fußgänger.",
  "¿Dónde está la biblioteca? ¡Qué bien! El niño comió piña.",
  "Việt Nam có nhiều cảnh đẹp: vịnh Hạ Long, phố cổ Hội An.",
  "Москва — столица России. Привет, мир! Съешь же ещё этих мягких французских булок.",
  "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
  "שלום עולם! זהו טקסט בעברית עם מספרים 123.",
  "مرحبا بالعالم! هذا نص عربي مع أرقام ٠١٢٣٤٥٦٧٨٩.",
  "नमस्ते दुनिया! यह हिंदी में एक वाक्य है।",
  "สวัสดีชาวโลก นี่คือภาษาไทย",
  "Dzień dobry! Zażółć gęślą jaźń. Příliš žluťoučký kůň úpěl ďábelské ódy.",
  "Árvíztűrő tükörfúrógép. Ærøskøbing på Ærø. Smørrebrød og æbleskiver.",
  "İstanbul'da ılık bir gün; ĞÜŞİÖÇ ğüşıöç.",
];

const CJK_EXTRA = [
  "我们在东京的一家小餐馆吃了拉面，味道非常好。",
  "今日は良い天気ですね。桜が咲いています。",
  "机器学习模型需要大量的数据来训练。",
  "トークナイザーはテキストをトークンに分割します。カタカナとひらがな。",
  "한국어 문장도 포함됩니다. 안녕하세요, 세계!",
  "「引用」と『二重引用』、【括弧】と〔亀甲〕。",
  "全角ＡＢＣ１２３と半角ｶﾀｶﾅ，。！？",
  "这是一个测试：数字１２３、标点“引号”和（括号）。",
];

const EMOJI = [
  "😀", "😂", "🥲", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "❤️", "✨", "🔥", "🚀", "🤖", "🧠",
  "🙈🙉🙊", "☕", "⚡", "🎉", "👩🏾‍💻", "🐍", "🦀", "🫠", "🧑‍🔬", "©️", "®", "™", "1️⃣", "#️⃣", "🀄", "🃏",
];

const WORDS = [
  "the", "model", "token", "former", "attention", "parameter", "layer", "train", "grow", "sample", "evaluate",
  "a", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "be", "at", "by",
  "Transformer", "TokenFormer", "Pattention", "GPT", "NeoX", "BPE", "UTF-8", "JSON", "CPU", "GEMM", "AVX2",
  "naïve", "café", "résumé", "coöperate", "jalapeño", "façade", "Zürich", "São", "Paulo", "Ångström",
];

const SPECIAL = ["<|endoftext|>", "<|padding|>"];
const NEAR_SPECIAL = ["<|endoftext|", "<|endoftext", "|endoftext|>", "<|endoftext|>>", "<<|endoftext|>", "<|ENDOFTEXT|>", "< |endoftext| >", "<|end of text|>"];

// Ranges of assigned code points that have been stable for many Unicode versions (avoids version skew).
const RANGES = [
  [0x0021, 0x007e], [0x00a1, 0x00ff], [0x0100, 0x017f], [0x0180, 0x024f], [0x0250, 0x02af], [0x02b0, 0x02ff],
  [0x0300, 0x036f], [0x0391, 0x03a1], [0x03a3, 0x03c9], [0x0400, 0x04ff], [0x05d0, 0x05ea], [0x0621, 0x063a],
  [0x0641, 0x064a], [0x0660, 0x0669], [0x0905, 0x0939], [0x0966, 0x096f], [0x0e01, 0x0e30], [0x0e50, 0x0e59],
  [0x1e00, 0x1eff], [0x2010, 0x2027], [0x2030, 0x205e], [0x2070, 0x2071], [0x2074, 0x208e], [0x20a0, 0x20b5],
  [0x2100, 0x214f], [0x2150, 0x2188], [0x2190, 0x21ff], [0x2200, 0x22ff], [0x2460, 0x24ff], [0x2500, 0x257f],
  [0x25a0, 0x25ff], [0x2600, 0x26ff], [0x3041, 0x3096], [0x30a1, 0x30fa], [0x4e00, 0x9fa5], [0xac00, 0xd7a3],
  [0xff01, 0xff5e], [0xff61, 0xff9f], [0x1d400, 0x1d454], [0x1d456, 0x1d49c], [0x1f300, 0x1f5ff],
  [0x1f600, 0x1f64f], [0x1f680, 0x1f6c5], [0x20000, 0x2a6d6], [0xe000, 0xe0ff],
];

const ODD = [
  "\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u0001", "\u0007", "\u001b", "\u007f", "\u0085",
  "\u00a0", "\u1680", "\u2000", "\u2009", "\u202f", "\u205f", "\u3000", "\u2028", "\u2029", "\u000b", "\u000c",
  "\ufffd", "\ufffe", "\uffff", "\u{10ffff}", "\u{e0041}", "\u0301", "\u0308", "\u0327", "\u034f", "\u{1f3fb}",
];

const WHITESPACE = [" ", " ", " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", "\u00a0", "\u3000", "\u2003", "\v", "\f"];

function makeGenerator(seed, sources) {
  const r = rng(seed);
  const int = (n) => Math.floor(r() * n);
  const pick = (a) => a[int(a.length)];
  const chance = (p) => r() < p;
  const prose = sources.prose.filter((l) => l.trim().length > 0);
  const code = sources.code;

  const randomCodePoints = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) {
      const [lo, hi] = pick(RANGES);
      s += String.fromCodePoint(lo + int(hi - lo + 1));
      if (chance(0.15)) s += ' ';
    }
    return s;
  };
  const number = () => {
    switch (int(12)) {
      case 0: return String(int(10));
      case 1: return String(int(1000000));
      case 2: return String(int(2 ** 31)) + String(int(2 ** 31));
      case 3: return (r() * 1000).toFixed(int(6));
      case 4: return (r() * 1e6).toLocaleString('en-US');
      case 5: return `${(r() * 10).toExponential(int(5))}`;
      case 6: return `${1900 + int(200)}-${String(1 + int(12)).padStart(2, '0')}-${String(1 + int(28)).padStart(2, '0')}`;
      case 7: return `+1 (${100 + int(900)}) ${100 + int(900)}-${1000 + int(9000)}`;
      case 8: return `${int(100)}%`;
      case 9: return `0x${int(2 ** 31).toString(16).toUpperCase()}`;
      case 10: return `$${int(100000)}.${String(int(100)).padStart(2, '0')}`;
      default: return `${int(1000)}.${int(1000)}.${int(1000)}.${int(1000)}`;
    }
  };
  const ws = () => (chance(0.2) ? ' '.repeat(1 + int(40)) : pick(WHITESPACE));
  const nfd = (s) => s.normalize('NFD');

  const kinds = [
    [25, () => { let s = pick(prose); if (chance(0.3)) s += ' ' + pick(prose); return s.slice(0, 240); }],
    [6, () => pick(PROSE_EXTRA)],
    [14, () => { const i = int(Math.max(1, code.length - 6)); return code.slice(i, i + 1 + int(4)).join(chance(0.2) ? '\r\n' : '\n'); }],
    [8, () => { let s = ''; for (let k = 1 + int(8); k > 0; k--) s += (chance(0.5) ? pick(WORDS) + ' ' : '') + number() + (chance(0.3) ? ', ' : ' '); return s.trimEnd(); }],
    [10, () => { let s = chance(0.3) ? ws() : ''; for (let k = 1 + int(8); k > 0; k--) s += pick(WORDS) + ws(); if (chance(0.5)) s = s.trimEnd(); return s; }],
    [7, () => { const s = pick(PROSE_EXTRA.slice(7)) + ' ' + pick(WORDS.slice(-14)); return chance(0.3) ? nfd(s) : s; }],
    [8, () => { let s = pick(CJK_EXTRA); if (chance(0.5)) s += randomCodePoints(3 + int(10)); return s; }],
    [6, () => { let s = ''; for (let k = 1 + int(6); k > 0; k--) s += (chance(0.5) ? pick(WORDS) + (chance(0.5) ? ' ' : '') : '') + pick(EMOJI); return s; }],
    [6, () => { const parts = []; for (let k = 1 + int(4); k > 0; k--) parts.push(chance(0.7) ? pick(prose).slice(0, 60) : pick(WORDS)); const sp = chance(0.8) ? pick(SPECIAL) : pick(NEAR_SPECIAL); const i = int(parts.length + 1); parts.splice(i, 0, sp); return parts.join(chance(0.5) ? '' : pick([' ', '\n', '  '])); }],
    [7, () => randomCodePoints(5 + int(40))],
    [3, () => { let s = ''; for (let k = 2 + int(8); k > 0; k--) s += pick(ODD) + (chance(0.5) ? pick(WORDS) : ''); return s; }],
    [3, () => { const w = pick(WORDS); const c = pick(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "''", "'", "’s"]); return `${w}${c} ${pick(WORDS)}${chance(0.5) ? ' ' : ''}${c}${c}`; }],
    [2, () => pick(['', ' ', '\n', '\t', '  \n  ', '!!!', '...', '?!', '—', '----------', '==========', '"""', '***', '~~~~~~~~'])],
    [1, () => pick(['a', 'b', 'z', '0', '9']).repeat(1 + int(300))],
    [1, () => ' '.repeat(1 + int(80)) + pick(WORDS) + ' '.repeat(int(60))],
  ];
  const total = kinds.reduce((s, k) => s + k[0], 0);
  return function next() {
    let x = int(total);
    for (const [w, f] of kinds) {
      if (x < w) return f();
      x -= w;
    }
    throw new Error('unreachable');
  };
}

/** Lines of prose (Markdown) and code used as raw material. */
function loadSources(repoRoot) {
  const sharedRef = path.resolve(repoRoot, '..', 'shared', 'reference');
  // Only inputs that do not change while the project evolves: the reference spec and notes, and Core's sources
  // as of the skeleton commit are read (the generated lines are committed, so later edits do not matter).
  const proseFiles = listFiles(sharedRef, '.md');
  const codeFiles = listFiles(path.join(repoRoot, 'src', 'TokenFormer.Core'), '.cs');
  const prose = readLines(proseFiles);
  if (prose.length === 0) prose.push(...PROSE_EXTRA);
  return { prose, code: readLines(codeFiles), proseFiles, codeFiles };
}

function generateLines(seed, count, sources) {
  const next = makeGenerator(seed, sources);
  const lines = [];
  for (let i = 0; i < count; i++) lines.push(next());
  return lines;
}

module.exports = { rng, loadSources, generateLines };
