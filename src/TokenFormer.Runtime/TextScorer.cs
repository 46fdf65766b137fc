using TokenFormer.Model;
using TokenFormer.Model.Training;

namespace TokenFormer.Runtime;

/// <summary>
/// Perplexity of a token sequence, as <c>tokenformer eval --text</c> reports it: consecutive non-overlapping windows of
/// <c>sequence</c> + 1 ids (inputs and targets shifted by one; at most <c>maxWindows</c>, evenly spaced), scored in
/// batches with the training graph's forward pass, the per-token losses summed in double in a fixed order.
/// </summary>
public static class TextScorer
{
    /// <summary>The window length used when none is given: min(256, max_position_embeddings, tokens − 1).</summary>
    public static int DefaultSequence(TokenFormerModel model, int tokens) =>
        Math.Min(Math.Min(256, model.Config.MaxPositionEmbeddings), tokens - 1);

    /// <summary>
    /// Scores <paramref name="ids"/> with <paramref name="model"/>. <paramref name="sequence"/> null: <see cref="DefaultSequence"/>;
    /// <paramref name="maxWindows"/> 0: every window. Bad settings throw <see cref="InvalidSettingException"/>
    /// (Sequence, Batch, MaxWindows); fewer than two ids, <see cref="ArgumentException"/>.
    /// </summary>
    public static TextScore Score(TokenFormerModel model, int[] ids, int? sequence = null, int batch = 8, int maxWindows = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Length < 2) throw new ArgumentException($"the text encodes to {ids.Length} token(s); at least 2 are needed to score one prediction");
        int context = model.Config.MaxPositionEmbeddings;
        int t = sequence ?? DefaultSequence(model, ids.Length);
        if (t <= 0 || t > context) throw new InvalidSettingException("Sequence", $"must be in [1, max_position_embeddings {context}]", t);
        if (ids.Length < t + 1)
            throw new InvalidSettingException("Sequence", $"needs windows of {t + 1} tokens (inputs and shifted targets), but the text encodes to {ids.Length}", t);
        if (batch <= 0) throw new InvalidSettingException("Batch", "must be positive", batch);
        if (maxWindows < 0) throw new InvalidSettingException("MaxWindows", "must be at least 0", maxWindows, "0 = all");
        foreach (int id in ids)
            if ((uint)id >= (uint)model.Vocab) throw new ArgumentException($"token id {id} is outside the model's vocabulary [0, {model.Vocab})");
        long fit = (ids.Length - 1) / t;
        int count = (int)Math.Min(maxWindows > 0 ? maxWindows : int.MaxValue, fit);
        long[] starts = Evaluator.EvenlySpaced(ids.Length, t, count);
        var runner = new ModelRunner(model, Math.Min(batch, starts.Length), t, training: false);
        (double loss, long tokens) = new Evaluator(runner).Run(new ArrayTokenSource(ids), starts);
        return new TextScore(loss, tokens, starts.Length, t, ids.Length);
    }
}
