#!/usr/bin/env python3
"""Writes the small hand-made seed inputs under tools/fuzz/seeds/ (one folder per fuzz target).

tools/fuzz/run adds the test fixtures to these; the seeds here cover what the fixtures lack or hold only in large
files: a minimal PyTorch zip (and a ZIP64 one), tiny safetensors files of every dtype family, a prepared-data
directory, request bodies, IDX files and one tiny image per decoder. Run from the repository root; the output is
committed, so this only needs running again when a seed is added.

Three folders are not written here: seeds/model-dir holds a 1-layer, d = 16 model (vocab 11) saved by the library in
float32, bf16, int8 and int4 (ModelDirectory.Save, after ReducedPrecisionWeights.From for the reduced formats), each file its
config.json, a NUL byte, then its model.safetensors; seeds/adapter-dir an adapter of 2 qkv and 3 ffn tokens on that
float32 model (Adapter.Describe, StartMerged, Extract, Save), adapter_config.json, a NUL byte, adapter.safetensors;
seeds/eval-data the first lines of the evaluation fixtures (tests/fixtures/eval), PIQA once with its labels after a
NUL byte.
"""
import io, json, os, struct, zipfile, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# --- pickle: a state dict with two tensors, one a strided view of a shared storage, one a parameter
def u(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b

def tensor(key, numel, size, stride, offset=0, storage=b"FloatStorage"):
    t = b"ctorch._utils\n_rebuild_tensor_v2\n("
    t += b"(" + u("storage") + b"ctorch\n" + storage + b"\n" + u(key) + u("cpu") + b"K" + bytes([numel]) + b"tQ"
    t += b"K" + bytes([offset])
    t += b"(" + b"".join(b"K" + bytes([s]) for s in size) + b"t"
    t += b"(" + b"".join(b"K" + bytes([s]) for s in stride) + b"t"
    t += b"\x89ccollections\nOrderedDict\n)Rtq" + bytes([(ord(key[0]) * 7) & 0x3f]) + b"R"
    return t

pkl = b"\x80\x02ccollections\nOrderedDict\n)Rq\x00("
pkl += u("w") + tensor("0", 6, [2, 3], [3, 1])
pkl += u("wt") + tensor("0", 6, [3, 2], [1, 3])
pkl += u("b") + b"ctorch._utils\n_rebuild_parameter\n(" + tensor("1", 4, [4], [1], storage=b"HalfStorage") + b"\x89ccollections\nOrderedDict\n)Rtq\x30R"
pkl += u("e") + tensor("2", 1, [4], [0], storage=b"BFloat16Storage")
pkl += b"u}q\x40b."
put("pickle", "state-dict.pkl", pkl)
put("pickle", "refused-global.pkl", b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.")

def torch_zip(force_zip64):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        def add(name, data):
            with z.open(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), "w", force_zip64=force_zip64) as f:
                f.write(data)
        add("archive/data.pkl", pkl)
        add("archive/byteorder", b"little")
        add("archive/data/0", struct.pack("<6f", 1, 2, 3, 4, 5, 6))
        add("archive/data/1", struct.pack("<4e", 1, -2, 0.5, 8))
        add("archive/data/2", b"\x80\x3f")
        add("archive/version", b"3\n")
    return buf.getvalue()

put("torch-zip", "state-dict.bin", torch_zip(False))
put("torch-zip", "state-dict-zip64.bin", torch_zip(True))

# --- safetensors
def st(entries, data, meta=None):
    h = dict(entries)
    if meta: h["__metadata__"] = meta
    hb = json.dumps(h, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + data

put("safetensors", "floats.safetensors", st({
    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": "F16", "shape": [2, 1], "data_offsets": [8, 12]},
    "c": {"dtype": "BF16", "shape": [1], "data_offsets": [12, 14]},
    "d": {"dtype": "F64", "shape": [], "data_offsets": [14, 22]},
}, struct.pack("<2f", 1, 2) + struct.pack("<2e", 3, 4) + b"\x80\x40" + struct.pack("<d", 5), {"format": "pt"}))
put("safetensors", "ints.safetensors", st({
    "i": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},
    "j": {"dtype": "I32", "shape": [1], "data_offsets": [8, 12]},
    "k": {"dtype": "U8", "shape": [2], "data_offsets": [12, 14]},
    "z": {"dtype": "I16", "shape": [0, 3], "data_offsets": [14, 14]},
}, struct.pack("<qi", -1, 7) + b"\x01\x02"))
put("safetensors", "empty.safetensors", st({}, b""))

# --- config YAML in block style (the fixtures hold the flow style)
put("config-yaml", "block.yml", """# block style
num_layers: 2
hidden_size: 32
num-attention-heads: 2
qkv_slot_num: 32
proj_slot_num: 32
ffn_slot_num: 64
norm_activation_type: 'l2_norm_gelu'
attention_config:
  - tokenformer
  - tokenformer
rotary_pct: 0.25
seq_length: 64
extra:
  nested: [1, 2.5, True, None]
""")

# --- token data: meta.json, a NUL byte, then train.bin (uint16 tokens)
meta = {"format_version": 1, "tokenizer_hash": "abc", "vocab_size": 320, "end_of_text_id": 0, "dtype": "uint16",
        "train_tokens": 4, "val_tokens": 0, "train_documents": 1, "val_documents": 0, "val_fraction": 0.0,
        "val_split": "documents", "document_boundary": "file", "inputs": ["a.txt"]}
put("token-data", "uint16", json.dumps(meta).encode() + b"\0" + struct.pack("<4H", 1, 2, 3, 0))
meta.update(dtype="uint32", train_tokens=2)
put("token-data", "uint32", json.dumps(meta).encode() + b"\0" + struct.pack("<2I", 5, 0))

# --- request bodies
put("serve-completion", "basic.json", '{"model":"m","prompt":"Hello","max_tokens":8,"temperature":0.7,"top_p":0.9,"top_k":5,"seed":1,"stop":["\\n"],"stream":true}')
put("serve-completion", "prompts.json", '{"prompt":["a","b"],"repetition_penalty":1.1,"n":1,"echo":false,"logprobs":null,"suffix":"","stream_options":{"include_usage":true}}')
put("serve-chat", "basic.json", '{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":[{"type":"text","text":"More"}]}],"max_completion_tokens":8,"stream":false}')
put("serve-chat", "options.json", '{"messages":[{"role":"user","content":"x"}],"max_tokens":4,"temperature":0,"stop":"\\n","seed":-3,"response_format":{"type":"text"},"tools":null}')

# --- IDX
put("idx", "images-idx3", b"\0\0\x08\x03" + struct.pack(">3I", 2, 2, 2) + bytes(range(8)))
put("idx", "labels-idx1", b"\0\0\x08\x01" + struct.pack(">I", 3) + b"\0\1\2")

# --- images
def png(w, h, color_type, rows):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\0" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

put("image", "rgb.png", png(2, 2, 2, [b"\xff\0\0\0\xff\0", b"\0\0\xff\xff\xff\xff"]))
put("image", "grey.png", png(3, 1, 0, [b"\0\x80\xff"]))
put("image", "rgba.png", png(1, 2, 6, [b"\x10\x20\x30\x40", b"\x50\x60\x70\x80"]))
bmp_pixels = b"\0\0\xff\0\xff\0\0\0" + b"\xff\0\0\xff\xff\xff\0\0"  # 2x2, 24-bit, rows padded to 4 bytes
put("image", "rgb.bmp", b"BM" + struct.pack("<IHHI", 54 + len(bmp_pixels), 0, 0, 54) +
    struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, len(bmp_pixels), 2835, 2835, 0, 0) + bmp_pixels)
put("image", "grey.tga", struct.pack("<BBBHHBHHHHBB", 0, 0, 3, 0, 0, 0, 0, 0, 2, 2, 8, 0) + b"\0\x40\x80\xff")
put("image", "one.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
