using System.Runtime.InteropServices;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Export.Onnx;

/// <summary>Settings of <see cref="OnnxExporter"/>.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// Logits of the last position of every sequence only (<c>logits: [batch, 1, V]</c>) instead of every position: what a
    /// generation loop needs, and the head of a long prefill is then one row instead of all of them.
    /// </summary>
    public bool LastPositionLogitsOnly { get; init; }

    /// <summary>
    /// File name (beside the model) for the weights as ONNX external data; null writes them inline, which protobuf
    /// allows up to 2 GiB (<see cref="OnnxExporter.InlineLimitBytes"/>).
    /// </summary>
    public string? ExternalData { get; init; }
}

/// <summary>The model cannot be exported (a reduced-precision model, a graph too large to write inline).</summary>
public sealed class OnnxExportException(string message) : Exception(message);

/// <summary>
/// Writes a float32 TokenFormer as one ONNX graph (opset 17, standard operators only) that serves prefill and decode:
/// the KV cache is explicit — per layer <c>past_key_values.{l}.key/.value</c> [batch, heads, past, head_dim] in,
/// <c>present.{l}.key/.value</c> [batch, heads, past + sequence, head_dim] out (the past with the new positions
/// appended) — next to <c>input_ids</c> and <c>position_ids</c> [batch, sequence] (int64) and <c>logits</c>. The graph
/// computes what <see cref="TokenFormerStack"/> computes (docs/architecture.md, "The model's math"), from the same
/// tensors: Pattention as a Gemm against the key tokens (transB, the arena's layout), the configured normaliser Θ per
/// group of n scores (τ and the softmax multiplier from <see cref="Pattention.Settings"/>), the value product as MatMul;
/// LayerNormalization without affine parameters in the blocks and with them at the end; rotary from our own cos/sin
/// tables (<see cref="RotaryEmbedding.Tables"/>) gathered at the position ids; causal attention of each query over
/// the cached and new keys whose position is at most its own; the tied head as a Gemm against the embedding (no copy).
/// docs/onnx.md describes the inputs, outputs and limits.
/// </summary>
public static class OnnxExporter
{
    /// <summary>Largest ModelProto written inline (protobuf's limit is 2 GiB; a little is kept for the graph itself).</summary>
    public const long InlineLimitBytes = 2_000_000_000;

    /// <summary>Name of the key cache input of layer <paramref name="layer"/>.</summary>
    public static string PastKey(int layer) => $"past_key_values.{layer}.key";
    /// <summary>Name of the value cache input of layer <paramref name="layer"/>.</summary>
    public static string PastValue(int layer) => $"past_key_values.{layer}.value";
    /// <summary>Name of the key cache output of layer <paramref name="layer"/>.</summary>
    public static string PresentKey(int layer) => $"present.{layer}.key";
    /// <summary>Name of the value cache output of layer <paramref name="layer"/>.</summary>
    public static string PresentValue(int layer) => $"present.{layer}.value";

    /// <summary>Exports <paramref name="model"/> to <paramref name="path"/> (temporary file, then rename).</summary>
    public static void Export(TokenFormerModel model, string path, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        OnnxModel graph = Build(model, options);
        if (options.ExternalData is null && graph.InlineSize > InlineLimitBytes)
            throw new OnnxExportException($"the graph with its weights inline takes {graph.InlineSize / 1e9:F2} GB, over protobuf's 2 GiB limit; " +
                "write the weights as external data (--external-data)");
        graph.Save(path, options.ExternalData);
    }

    /// <summary>The ONNX graph of <paramref name="model"/>.</summary>
    public static OnnxModel Build(TokenFormerModel model, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        if (model.ReducedWeights is { } reduced)
            throw new OnnxExportException($"the model's weights are {WeightFormats.Name(reduced.Format)} (weight_format in its config.json); " +
                "the ONNX export writes float32 models only — export the float32 model the quantized one was made from");
        return new Builder(model, options).Build();
    }

    private sealed class Builder(TokenFormerModel model, OnnxExportOptions options)
    {
        private readonly TokenFormerConfig _cfg = model.Config;
        private readonly OnnxModel _g = new() { GraphName = "tokenformer" };
        private readonly Dictionary<string, string> _constants = [];
        private int _next;

        private string Name(string hint) => $"{hint}_{_next++}";

        private string Node(string op, string[] inputs, OnnxAttribute[]? attributes = null, string? output = null)
        {
            string o = output ?? Name(op.ToLowerInvariant());
            _g.Nodes.Add(new OnnxNode(op, inputs, [o], attributes));
            return o;
        }

        private string Scalar(float value)
        {
            string key = "f:" + BitConverter.SingleToInt32Bits(value);
            if (_constants.TryGetValue(key, out string? name)) return name;
            name = Name("const");
            _g.Initializers.Add(OnnxTensor.Floats(name, [], [value]));
            return _constants[key] = name;
        }

        private string Longs(params long[] values)
        {
            string key = "i:" + string.Join(',', values);
            if (_constants.TryGetValue(key, out string? name)) return name;
            name = Name("shape");
            _g.Initializers.Add(OnnxTensor.Longs(name, [values.Length], values));
            return _constants[key] = name;
        }

        private string LongScalar(long value)
        {
            string key = "l:" + value;
            if (_constants.TryGetValue(key, out string? name)) return name;
            name = Name("const");
            _g.Initializers.Add(OnnxTensor.Longs(name, [], [value]));
            return _constants[key] = name;
        }

        private string Weight(string name, int[] shape, int offset)
        {
            long count = 1;
            foreach (int s in shape) count *= s;
            var raw = new byte[count * 4];
            MemoryMarshal.AsBytes(model.Parameters.AsSpan(offset, checked((int)count))).CopyTo(raw);
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the ONNX export writes little-endian hosts' floats as they are");
            _g.Initializers.Add(new OnnxTensor(name, OnnxType.Float, shape.Select(s => (long)s).ToArray(), raw));
            return name;
        }

        private string Weight(ParameterTensor t) => Weight(t.Name, t.Shape, t.Offset);

        private static OnnxAttribute Attr(string name, long value) => new(name, Int: value);

        public OnnxModel Build()
        {
            TokenFormerConfig c = _cfg;
            int d = c.HiddenSize, heads = c.NumAttentionHeads, h = c.HeadDim, r = c.RotaryDim, layers = c.NumLayers, vocab = model.Vocab;
            ParameterLayout layout = model.Layout;

            _g.Inputs.Add(new OnnxValue("input_ids", OnnxType.Int64, ["batch", "sequence"]));
            _g.Inputs.Add(new OnnxValue("position_ids", OnnxType.Int64, ["batch", "sequence"]));
            for (int l = 0; l < layers; l++)
            {
                _g.Inputs.Add(new OnnxValue(PastKey(l), OnnxType.Float, ["batch", heads, "past_sequence", h]));
                _g.Inputs.Add(new OnnxValue(PastValue(l), OnnxType.Float, ["batch", heads, "past_sequence", h]));
            }
            _g.Outputs.Add(new OnnxValue("logits", OnnxType.Float, ["batch", options.LastPositionLogitsOnly ? 1 : "sequence", vocab]));
            for (int l = 0; l < layers; l++)
            {
                _g.Outputs.Add(new OnnxValue(PresentKey(l), OnnxType.Float, ["batch", heads, "total_sequence", h]));
                _g.Outputs.Add(new OnnxValue(PresentValue(l), OnnxType.Float, ["batch", heads, "total_sequence", h]));
            }

            // rows: the residual stream is [batch·sequence, d], as in our stack
            string embedding = Weight(layout.Tensor(ParameterRole.Embedding));
            string idsShape = Node("Shape", ["input_ids"]);
            string x = Node("Gather", [embedding, Node("Reshape", ["input_ids", Longs(-1)])], [Attr("axis", 0)]);
            string headShape = Node("Concat", [idsShape, Longs(heads, h)], [Attr("axis", 0)]);

            // rotary: our cos/sin tables [positions, r/2] gathered at the position ids → [batch, 1, sequence, r/2]
            string? cos = null, sin = null;
            if (r > 0)
            {
                var rotary = new RotaryEmbedding(h, r, c.RotaryEmbBase, c.MaxPositionEmbeddings);
                (ReadOnlyMemory<float> cosTable, ReadOnlyMemory<float> sinTable) = rotary.Tables;
                _g.Initializers.Add(OnnxTensor.Floats("rotary.cos", [c.MaxPositionEmbeddings, r / 2], cosTable.Span));
                _g.Initializers.Add(OnnxTensor.Floats("rotary.sin", [c.MaxPositionEmbeddings, r / 2], sinTable.Span));
                cos = Node("Unsqueeze", [Node("Gather", ["rotary.cos", "position_ids"], [Attr("axis", 0)]), Longs(1)]);
                sin = Node("Unsqueeze", [Node("Gather", ["rotary.sin", "position_ids"], [Attr("axis", 0)]), Longs(1)]);
            }

            // causal mask as an additive bias [batch, 1, sequence, past + sequence]: the key at cache position j is seen by a
            // query at position p when j ≤ p (the cache holds positions 0 … past−1, the new rows past … past + sequence − 1)
            string past = Node("Shape", [PastKey(0)], [Attr("start", 2), Attr("end", 3)]);
            string seq = Node("Shape", ["input_ids"], [Attr("start", 1), Attr("end", 2)]);
            string total = Node("Squeeze", [Node("Add", [past, seq]), Longs(0)]);
            string keyPositions = Node("Range", [LongScalar(0), total, LongScalar(1)]);
            string queryPositions = Node("Unsqueeze", ["position_ids", Longs(1, 3)]);
            string visible = Node("LessOrEqual", [keyPositions, queryPositions]);
            string bias = Node("Where", [visible, Scalar(0f), Scalar(float.NegativeInfinity)]);
            string ones = "layernorm.ones";
            _g.Initializers.Add(OnnxTensor.Floats(ones, [d], Enumerable.Repeat(1f, d).ToArray()));
            float eps = (float)c.LayerNormEpsilon;
            string attentionScale = Scalar(1f / MathF.Sqrt(h));

            for (int l = 0; l < layers; l++)
            {
                string a1 = Node("LayerNormalization", [x, ones], [Attr("axis", -1), new OnnxAttribute("epsilon", Float: eps)]);
                // Q/K/V: one Gemm of width 3n against the adjacent key tokens, Θ per third, three value products
                ParameterTensor kq = layout.Tensor(l, PattentionSite.Query, ParameterRole.PattentionKeys);
                int n = kq.Shape[0];
                // the three key-token tensors are adjacent in the arena (as Pattention reads them), so they are one [3n, d] matrix
                if (layout.Tensor(l, PattentionSite.Key, ParameterRole.PattentionKeys).Offset != kq.Offset + n * d ||
                    layout.Tensor(l, PattentionSite.Value, ParameterRole.PattentionKeys).Offset != kq.Offset + 2 * n * d)
                    throw new OnnxExportException($"layer {l}: the query, key and value key tokens are not adjacent in the parameter layout");
                string keys = Weight($"layers.{l}.qkv.key_param_tokens", [3 * n, d], kq.Offset);
                string scores = Node("Gemm", [a1, keys], [Attr("transB", 1)]);
                (float tau, float m) = Pattention.Settings(c, PattentionSite.Query);
                string s3 = Normalize(Node("Reshape", [scores, Longs(-1, 3, n)]), tau, m);
                string[] split = [Name("s_q"), Name("s_k"), Name("s_v")];
                _g.Nodes.Add(new OnnxNode("Split", [s3], split, [Attr("axis", 1)]));
                string[] qkv = new string[3];
                PattentionSite[] sites = [PattentionSite.Query, PattentionSite.Key, PattentionSite.Value];
                for (int i = 0; i < 3; i++)
                {
                    string values = Weight(layout.Tensor(l, sites[i], ParameterRole.PattentionValues));
                    // [rows, 1, n]·[n, d] → [rows, 1, d] → [batch, sequence, heads, h] → [batch, heads, sequence, h]
                    string y = Node("Reshape", [Node("MatMul", [split[i], values]), headShape]);
                    qkv[i] = Node("Transpose", [y], [new OnnxAttribute("perm", Ints: [0, 2, 1, 3])]);
                }
                string q = Rotate(qkv[0], cos, sin, r, h);
                string k = Rotate(qkv[1], cos, sin, r, h);
                string kAll = Node("Concat", [PastKey(l), k], [Attr("axis", 2)], PresentKey(l));
                string vAll = Node("Concat", [PastValue(l), qkv[2]], [Attr("axis", 2)], PresentValue(l));
                string kT = Node("Transpose", [kAll], [new OnnxAttribute("perm", Ints: [0, 1, 3, 2])]);
                string logits = Node("Add", [Node("Mul", [Node("MatMul", [q, kT]), attentionScale]), bias]);
                string p = Node("Softmax", [logits], [Attr("axis", -1)]);
                string o = Node("Transpose", [Node("MatMul", [p, vAll])], [new OnnxAttribute("perm", Ints: [0, 2, 1, 3])]);
                string att = Node("Reshape", [o, Longs(-1, d)]);
                x = Node("Add", [x, PattentionBranch(att, l, PattentionSite.Projection)]);
                string a2 = Node("LayerNormalization", [x, ones], [Attr("axis", -1), new OnnxAttribute("epsilon", Float: eps)]);
                x = Node("Add", [x, PattentionBranch(a2, l, PattentionSite.Ffn)]);
            }

            string normWeight = Weight(layout.Tensor(ParameterRole.FinalNormWeight));
            string normBias = Weight(layout.Tensor(ParameterRole.FinalNormBias));
            if (options.LastPositionLogitsOnly)
            {
                string x3 = Node("Reshape", [x, Node("Concat", [idsShape, Longs(d)], [Attr("axis", 0)])]);
                string last = Node("Slice", [x3, Longs(-1), Longs(long.MaxValue), Longs(1)]);
                x = Node("Reshape", [last, Longs(-1, d)]);
            }
            string z = Node("LayerNormalization", [x, normWeight, normBias], [Attr("axis", -1), new OnnxAttribute("epsilon", Float: eps)]);
            string head = Node("Gemm", [z, embedding], [Attr("transB", 1)]);
            if (options.LastPositionLogitsOnly) Node("Unsqueeze", [head, Longs(1)], output: "logits");
            else Node("Reshape", [head, Node("Concat", [idsShape, Longs(vocab)], [Attr("axis", 0)])], output: "logits");
            return _g;
        }

        /// <summary>Θ(x·K_Pᵀ)·V_P of a one-group Pattention over rows [rows, d_in].</summary>
        private string PattentionBranch(string input, int layer, PattentionSite site)
        {
            ParameterTensor keys = model.Layout.Tensor(layer, site, ParameterRole.PattentionKeys);
            ParameterTensor values = model.Layout.Tensor(layer, site, ParameterRole.PattentionValues);
            (float tau, float m) = Pattention.Settings(_cfg, site);
            string scores = Node("Gemm", [input, Weight(keys)], [Attr("transB", 1)]);
            return Node("MatMul", [Normalize(scores, tau, m), Weight(values)]);
        }

        /// <summary>The normaliser Θ over the last axis (docs/architecture.md, Pattention; Kernels/PattentionNormalizer.cs).</summary>
        private string Normalize(string a, float tau, float m)
        {
            switch (_cfg.Activation)
            {
                case NormActivation.L2NormGelu:
                {
                    // z = A·(τ/‖A‖₂), S = GeLU(z); no ε, as in the reference
                    string norm = Node("Sqrt", [Node("ReduceSumSquare", [a], [new OnnxAttribute("axes", Ints: [-1]), Attr("keepdims", 1)])]);
                    return Gelu(Node("Mul", [a, Node("Div", [Scalar(tau), norm])]));
                }
                case NormActivation.GeluL2Norm:
                {
                    string g = Gelu(a);
                    string norm = Node("Sqrt", [Node("ReduceSumSquare", [g], [new OnnxAttribute("axes", Ints: [-1]), Attr("keepdims", 1)])]);
                    return Node("Mul", [g, Node("Div", [Scalar(tau), norm])]);
                }
                case NormActivation.Softmax:
                    return Node("Mul", [Node("Softmax", [a], [Attr("axis", -1)]), Scalar(m)]);
                default:
                    throw new OnnxExportException($"norm_activation_type '{_cfg.NormActivationType}' has no ONNX form");
            }
        }

        /// <summary>Exact GeLU, z·½·(1 + erf(z/√2)), in the form ONNX Runtime fuses into one kernel.</summary>
        private string Gelu(string z)
        {
            string e = Node("Erf", [Node("Div", [z, Scalar(MathF.Sqrt(2f))])]);
            return Node("Mul", [Node("Mul", [z, Node("Add", [e, Scalar(1f)])]), Scalar(0.5f)]);
        }

        /// <summary>Rotate-half rotary on the first r channels of t [batch, heads, sequence, h]; the rest pass through.</summary>
        private string Rotate(string t, string? cos, string? sin, int r, int h)
        {
            if (r == 0) return t;
            int half = r / 2;
            string u1 = Node("Slice", [t, Longs(0), Longs(half), Longs(3)]);
            string u2 = Node("Slice", [t, Longs(half), Longs(r), Longs(3)]);
            string n1 = Node("Sub", [Node("Mul", [u1, cos!]), Node("Mul", [u2, sin!])]);
            string n2 = Node("Add", [Node("Mul", [u2, cos!]), Node("Mul", [u1, sin!])]);
            if (r == h) return Node("Concat", [n1, n2], [Attr("axis", 3)]);
            string rest = Node("Slice", [t, Longs(r), Longs(h), Longs(3)]);
            return Node("Concat", [n1, n2, rest], [Attr("axis", 3)]);
        }
    }
}
