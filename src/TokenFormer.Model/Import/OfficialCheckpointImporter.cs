using System.Text.RegularExpressions;
using TokenFormer.Core.PyTorch;

namespace TokenFormer.Model.Import;

/// <summary>
/// Turns an official TokenFormer state dict (<c>pytorch_model.bin</c>, read by <see cref="TorchCheckpoint"/>) into a
/// <see cref="TokenFormerModel"/>. The official key set (docs/architecture.md, Parameter layout) is the model's <see cref="ParameterLayout"/>:
/// every expected key must be present with exactly the shape the config implies, and no other key may be present
/// (rotary <c>inv_freq</c> buffers excepted: they are recomputed). All keys and shapes are checked before the
/// parameter array is allocated; then each tensor is read straight from the file into its slice of
/// <see cref="TokenFormerModel.Parameters"/> (float16/bfloat16 widened).
/// </summary>
public static partial class OfficialCheckpointImporter
{
    /// <summary>Key of the tied embedding [V, d].</summary>
    public const string EmbeddingKey = "sequential.0.word_embeddings.weight";

    /// <summary>A checked import plan: the config with its vocabulary set and, per layout tensor, its checkpoint tensor.</summary>
    public sealed record Plan(TokenFormerConfig Config, IReadOnlyList<(ParameterTensor Target, TorchTensor Source)> Tensors, IReadOnlyList<string> Notes);

    /// <summary>
    /// Checks every key and shape of <paramref name="checkpoint"/> against <paramref name="config"/> (a copy is made;
    /// its vocab_size comes from the embedding). Throws <see cref="ModelFormatException"/> naming the file and the
    /// missing, unexpected or mis-shaped keys. Allocates nothing large.
    /// </summary>
    public static Plan Check(TorchCheckpoint checkpoint, TokenFormerConfig config)
    {
        string file = checkpoint.Path;
        var notes = new List<string>();
        TokenFormerConfig c = config.Clone();
        TorchTensor emb = checkpoint.Find(EmbeddingKey)
            ?? throw new ModelFormatException($"{file}: tensor '{EmbeddingKey}' is missing (expected shape [vocab, {c.HiddenSize}]); {Describe(checkpoint)}");
        if (emb.Shape.Length != 2 || emb.Shape[1] != c.HiddenSize || emb.Shape[0] <= 0 || emb.Shape[0] > int.MaxValue)
            throw new ModelFormatException($"{file}: tensor '{EmbeddingKey}' has shape {emb.ShapeText} but the config (hidden_size {c.HiddenSize}) expects [vocab, {c.HiddenSize}]");
        int vocab = (int)emb.Shape[0];
        if (c.VocabSize is int declared && declared != vocab)
        {
            if (declared > vocab)
                throw new ModelFormatException($"{file}: the config declares vocab_size {declared} but '{EmbeddingKey}' has only {vocab} rows ({emb.ShapeText})");
            notes.Add($"the config declares vocab_size {declared}; the embedding has {vocab} rows (padded vocabulary), which the model uses");
        }
        c.VocabSize = vocab;
        var layout = new ParameterLayout(c, vocab);

        LayoutMismatch mismatch = LayoutMismatch.Compare(layout, checkpoint.Tensors.Select(t => (t.Name, t.Shape)),
            name => name.EndsWith(".inv_freq", StringComparison.Ordinal));
        if (!mismatch.IsEmpty)
            throw new ModelFormatException(
                $"{file} does not fit a TokenFormer with num_layers {c.NumLayers}, hidden_size {c.HiddenSize}, qkv/proj/ffn_slot_num {c.QkvSlotNum}/{c.ProjSlotNum}/{c.FfnSlotNum}: "
                + mismatch.Describe() + $". {Describe(checkpoint)}");
        foreach (TorchTensor s in checkpoint.Tensors)
            if (s.Name.EndsWith(".inv_freq", StringComparison.Ordinal) && layout.Find(s.Name) == null)
                notes.Add($"ignored rotary buffer '{s.Name}' (recomputed from rotary_emb_base)");
        var pairs = layout.Tensors.Select(t => (t, checkpoint.Find(t.Name)!)).ToList();
        return new Plan(c, pairs, notes);
    }

    /// <summary>Allocates the model of a checked <paramref name="plan"/> and reads every tensor into it.</summary>
    public static TokenFormerModel Load(TorchCheckpoint checkpoint, Plan plan)
    {
        var model = new TokenFormerModel(plan.Config);
        foreach (var (target, source) in plan.Tensors)
            checkpoint.ReadFloat32(source, model.Parameters.AsSpan(target.Offset, target.Length));
        return model;
    }

    /// <summary><see cref="Check"/> then <see cref="Load"/>.</summary>
    public static TokenFormerModel Import(TorchCheckpoint checkpoint, TokenFormerConfig config) => Load(checkpoint, Check(checkpoint, config));

    /// <summary>
    /// The official preset whose layout matches the checkpoint's shapes exactly, or null. Used to suggest
    /// <c>--preset</c> when no config is given.
    /// </summary>
    public static string? MatchPreset(TorchCheckpoint checkpoint)
    {
        foreach (TokenFormerPresets.Preset p in TokenFormerPresets.All)
        {
            try
            {
                TokenFormerConfig c = p.Create();
                c.VocabSize = null;
                Check(checkpoint, c);
                return p.Name;
            }
            catch (ModelFormatException) { }
        }
        return null;
    }

    /// <summary>One line describing what the checkpoint looks like (layers, hidden size, token counts), for error messages.</summary>
    public static string Describe(TorchCheckpoint checkpoint)
    {
        var layers = new SortedSet<int>();
        foreach (TorchTensor t in checkpoint.Tensors)
        {
            Match m = LayerKey().Match(t.Name);
            if (m.Success) layers.Add(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
        TorchTensor? emb = checkpoint.Find(EmbeddingKey);
        TorchTensor? q = checkpoint.Tensors.FirstOrDefault(t => t.Name.EndsWith("attention.query.key_param_tokens", StringComparison.Ordinal));
        TorchTensor? f = checkpoint.Tensors.FirstOrDefault(t => t.Name.EndsWith("mlp.key_param_tokens", StringComparison.Ordinal));
        return $"The checkpoint holds {checkpoint.Tensors.Count} tensors: {layers.Count} layer(s)"
            + (emb != null ? $", embedding {emb.ShapeText}" : ", no embedding")
            + (q != null ? $", query key tokens {q.ShapeText}" : "")
            + (f != null ? $", FFN key tokens {f.ShapeText}" : "") + ".";
    }

    [GeneratedRegex(@"^sequential\.(\d+)\.mlp\.key_param_tokens$")]
    private static partial Regex LayerKey();
}
