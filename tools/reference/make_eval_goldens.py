#!/usr/bin/python3
"""Golden per-example log-likelihoods and metrics for the evaluation harness (tests/fixtures/eval/goldens/).

Run by hand (never by CI), from the repository root, with the Debian interpreter that has PyTorch:

    /usr/bin/python3 tools/reference/make_eval_goldens.py            # (re)write tests/fixtures/eval/goldens/*.json
    /usr/bin/python3 tools/reference/make_eval_goldens.py --check    # compute and compare with the committed goldens

Independent of the C# code: the requests are built here from each task's definition in lm-evaluation-harness
(prompt templates, target delimiter " ", HellaSwag's preprocessing, WinoGrande's partial scoring; see
docs/evaluation.md), the text is encoded by a small byte-level BPE written here from tokenizer.json (ASCII text
only: the fixtures are ASCII), and every request runs alone through make_model_goldens.forward (float64 on the
model's float32 weights): no prefix sharing, no batching, no KV cache. Nothing but torch, numpy and the standard
library is imported.
"""
import argparse
import json
import math
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_goldens import forward, read_safetensors  # noqa: E402

MODEL = "tests/fixtures/library/sotu-tiny"
DATA = "tests/fixtures/eval"
OUT = "tests/fixtures/eval/goldens"
TASKS = [("lambada_openai", "lambada_openai.jsonl"), ("hellaswag", "hellaswag.jsonl"), ("piqa", "piqa.jsonl"),
         ("piqa", "piqa_split.jsonl"), ("arc_easy", "arc_easy.jsonl"), ("arc_challenge", "arc_challenge.jsonl"),
         ("winogrande", "winogrande.jsonl")]
PERPLEXITY = ["perplexity.txt", "perplexity.jsonl"]

# ----------------------------------------------------------------------------- byte-level BPE (ASCII text)


def byte_alphabet():
    """GPT-2's byte -> printable character table."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


# the GPT-2 split with ASCII classes: letters [A-Za-z], digits [0-9] (exact for ASCII input)
SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


class Bpe:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            t = json.load(f)
        m = t["model"]
        self.vocab = m["vocab"]
        merges = [tuple(x.split(" ")) if isinstance(x, str) else tuple(x) for x in m["merges"]]
        self.rank = {p: i for i, p in enumerate(merges)}
        self.bytes = byte_alphabet()
        self.eot = next(a["id"] for a in t["added_tokens"] if a["content"] == "<|endoftext|>")

    def word(self, piece):
        sym = [self.bytes[b] for b in piece.encode("utf-8")]
        while len(sym) > 1:
            best = min(range(len(sym) - 1), key=lambda i: (self.rank.get((sym[i], sym[i + 1]), 1 << 30), i))
            if (sym[best], sym[best + 1]) not in self.rank:
                break
            pair, out, i = (sym[best], sym[best + 1]), [], 0
            while i < len(sym):
                if i + 1 < len(sym) and (sym[i], sym[i + 1]) == pair:
                    out.append(sym[i] + sym[i + 1])
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            sym = out
        return [self.vocab[s] for s in sym]

    def encode(self, text):
        assert all(ord(c) < 128 for c in text), "the reference BPE handles ASCII text only"
        assert "<|endoftext|>" not in text
        ids = []
        for piece in SPLIT.findall(text):
            ids += self.word(piece)
        return ids


# ----------------------------------------------------------------------------- the tasks, written from the harness's definitions


def hellaswag_pre(text):
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def requests(task, doc, labels=None):
    """[(context, continuation)], gold index, choices (the strings acc_norm divides by)."""
    if task == "lambada_openai":
        words = doc["text"].split(" ")
        target = " " + words[-1]
        return [(" ".join(words[:-1]), target)], 0, [target]
    if task == "hellaswag":
        ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
        query = hellaswag_pre(doc["activity_label"] + ": " + ctx)
        choices = [hellaswag_pre(e) for e in doc["endings"]]
        return [(query, " " + c) for c in choices], int(doc["label"]), choices
    if task == "piqa":
        choices = [doc["sol1"], doc["sol2"]]
        gold = doc["label"] if "label" in doc else labels
        return [("Question: " + doc["goal"] + "\nAnswer:", " " + c) for c in choices], gold, choices
    if task in ("arc_easy", "arc_challenge"):
        q = doc["question"]
        texts = [c["text"] for c in q["choices"]]
        gold = [c["label"] for c in q["choices"]].index(doc["answerKey"])
        return [("Question: " + q["stem"] + "\nAnswer:", " " + t) for t in texts], gold, texts
    if task == "winogrande":
        i = doc["sentence"].index("_")
        target = " " + doc["sentence"][i + 1:].strip()
        contexts = [doc["sentence"][:i] + o for o in (doc["option1"], doc["option2"])]
        return [(c, target) for c in contexts], {"1": 0, "2": 1}[doc["answer"]], contexts
    raise ValueError(task)


# ----------------------------------------------------------------------------- scoring, one request at a time


class Model:
    def __init__(self, d):
        with open(os.path.join(d, "config.json")) as f:
            c = json.load(f)
        self.cfg = dict(name="sotu-tiny", L=c["num_layers"], d=c["hidden_size"], H=c["num_attention_heads"],
                        norm=c["norm_activation_type"], eps=c["layernorm_epsilon"], rotary_pct=c["rotary_pct"],
                        rotary_base=c["rotary_emb_base"])
        self.max_length = c["max_position_embeddings"]
        tensors, _ = read_safetensors(os.path.join(d, "model.safetensors"))
        self.P = {k: torch.from_numpy(v).to(torch.float64) for k, v in tensors.items()}
        self.bpe = Bpe(os.path.join(d, "tokenizer.json"))

    def encode_pair(self, context, continuation):
        if context == "":
            return [self.bpe.eot], self.bpe.encode(continuation)
        n = len(context) - len(context.rstrip())
        if n > 0:
            continuation = context[-n:] + continuation
            context = context[:-n]
        whole = self.bpe.encode(context + continuation)
        ctx = self.bpe.encode(context)
        return ctx, whole[len(ctx):]

    def loglikelihood_tokens(self, ctx, cont):
        """(sum log p, greedy, tokens, min top-1 margin over the continuation)."""
        full = ctx + cont
        inp = full[-(self.max_length + 1):][:-1]
        with torch.no_grad():
            logits = forward(self.P, self.cfg, torch.tensor([inp], dtype=torch.int64))[0]
        lp = torch.log_softmax(logits[len(inp) - len(cont):], dim=-1)
        target = torch.tensor(cont, dtype=torch.int64)
        ll = float(lp.gather(-1, target.unsqueeze(-1)).sum())
        greedy = bool((lp.argmax(dim=-1) == target).all())
        top2 = lp.topk(2, dim=-1).values
        margin = float((top2[:, 0] - top2[:, 1]).min())
        return ll, greedy, len(cont), margin


def stderr(values):
    n = len(values)
    if n < 2:
        return None
    m = sum(values) / n
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) / math.sqrt(n)


def argmax(values):
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def run_task(model, task, file):
    path = os.path.join(DATA, file)
    labels_path = os.path.join(DATA, os.path.splitext(file)[0] + "-labels.lst")
    labels = [int(x) for x in open(labels_path).read().split()] if os.path.exists(labels_path) else None
    examples, k = [], 0
    for line_no, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip():
            continue
        doc = json.loads(line)
        reqs, gold, choices = requests(task, doc, labels[k] if labels else None)
        k += 1
        scores = []
        for context, continuation in reqs:
            ctx, cont = model.encode_pair(context, continuation)
            ll, greedy, n, margin = model.loglikelihood_tokens(ctx, cont)
            scores.append(dict(ll=ll, greedy=greedy, tokens=n, margin=margin))
        lls = [s["ll"] for s in scores]
        pred = argmax(lls)
        pred_norm = argmax([ll / len(c) for ll, c in zip(lls, choices)])
        examples.append(dict(line=line_no, gold=gold, scores=scores, prediction=pred, norm_prediction=pred_norm))
    metrics = {}
    if task == "lambada_openai":
        lls = [e["scores"][0]["ll"] for e in examples]
        ppl = math.exp(-sum(lls) / len(lls))
        se = stderr(lls)
        metrics["perplexity"] = dict(value=ppl, stderr=None if se is None else ppl * se)
        acc = [1.0 if e["scores"][0]["greedy"] else 0.0 for e in examples]
        metrics["acc"] = dict(value=sum(acc) / len(acc), stderr=stderr(acc))
    else:
        acc = [1.0 if e["prediction"] == e["gold"] else 0.0 for e in examples]
        metrics["acc"] = dict(value=sum(acc) / len(acc), stderr=stderr(acc))
        if task != "winogrande":
            norm = [1.0 if e["norm_prediction"] == e["gold"] else 0.0 for e in examples]
            metrics["acc_norm"] = dict(value=sum(norm) / len(norm), stderr=stderr(norm))
    return dict(task=task, data=file, model=MODEL, examples=examples, metrics=metrics)


def rolling_windows(tokens, prefix, max_len):
    """Disjoint windows (context ids, predicted ids), written from the harness's rolling-window definition."""
    out = []
    first = min(max_len, len(tokens))
    out.append(([prefix] + tokens[:first - 1], tokens[:first]))
    done = first
    while done < len(tokens):
        n = min(len(tokens) - done, max_len)
        end = done + n
        out.append((tokens[end - max_len - 1:end - 1], tokens[end - n:end]))
        done = end
    return [(a[:len(a) - (len(b) - 1)], b) for a, b in out]


def wikitext_detokenize(text):
    """The harness's WikiText detokeniser, rule by rule in its order (docs/evaluation.md)."""
    plain = [("s '", "s'")]
    for a, b in plain:
        text = text.replace(a, b)
    text = re.sub(r"/' [0-9]/", "/'[0-9]/", text)
    for a, b in ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."), (" : ", ": "), (" ; ", "; "), (" . ", ". "),
                 (" ! ", "! "), (" ? ", "? "), (" , ", ", ")):
        text = text.replace(a, b)
    for open_, close in (("(", ")"), ("[", "]"), ("{", "}"), ('"', '"'), ("'", "'")):
        o, c = re.escape(open_), re.escape(close)
        text = re.sub(o + r"\s*([^" + c + r"]*?)\s*" + c, lambda m: open_ + m.group(1) + close, text)
    for a, b in (("= = = =", "===="), ("= = =", "==="), ("= =", "=="), (" \u00b0 ", "\u00b0"), (" \n", "\n"),
                 ("\n ", "\n"), (" N ", " 1 "), (" 's", "'s")):
        text = text.replace(a, b)
    return text


def run_perplexity(model, file, prepare=None, task="perplexity"):
    path = os.path.join(DATA, file)
    if file.endswith(".jsonl"):
        docs = [json.loads(line)["page"] for line in open(path, encoding="utf-8") if line.strip()]
    else:
        docs = [open(path, encoding="utf-8").read()]
    out = []
    for text in docs:
        ids = model.bpe.encode(prepare(text) if prepare else text)
        windows = rolling_windows(ids, model.bpe.eot, model.max_length)
        ll = sum(model.loglikelihood_tokens(a, b)[0] for a, b in windows)
        out.append(dict(ll=ll, tokens=len(ids), words=len(re.split(r"\s+", text)), bytes=len(text.encode("utf-8")),
                        windows=len(windows)))
    tot = lambda k: sum(d[k] for d in out)  # noqa: E731
    metrics = {}
    for name, unit in (("token_perplexity", "tokens"), ("word_perplexity", "words"), ("byte_perplexity", "bytes")):
        metrics[name] = math.exp(-tot("ll") / tot(unit))
    metrics["bits_per_byte"] = -tot("ll") / tot("bytes") / math.log(2)
    return dict(task=task, data=file, model=MODEL, documents=out, metrics=metrics)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="compare with the committed goldens instead of writing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = Model(MODEL)
    results = {}
    for task, file in TASKS:
        results[os.path.splitext(file)[0]] = run_task(model, task, file)
    for file in PERPLEXITY:
        results["perplexity_" + file.split(".")[-1]] = run_perplexity(model, file)
    results["wikitext_jsonl"] = run_perplexity(model, "perplexity.jsonl", wikitext_detokenize, "wikitext")
    os.makedirs(OUT, exist_ok=True)
    bad = 0
    for name, r in results.items():
        path = os.path.join(OUT, name + ".json")
        text = json.dumps(r, indent=1) + "\n"
        if args.check:
            same = os.path.exists(path) and open(path).read() == text
            print(f"{name}: {'same' if same else 'DIFFERENT'}")
            bad += not same
        else:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        margins = [s["margin"] for e in r.get("examples", []) for s in e["scores"]]
        summary = {k: (v["value"] if isinstance(v, dict) else v) for k, v in r["metrics"].items()}
        print(f"{name}: {summary}" + (f", smallest top-1 margin {min(margins):.2e}" if margins else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
