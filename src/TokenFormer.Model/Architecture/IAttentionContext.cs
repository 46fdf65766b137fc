namespace TokenFormer.Model.Architecture;

/// <summary>
/// How the attention of a <see cref="TokenFormerBlock"/> sees other positions: the block computes the new rows' keys
/// and values, hands them to the context, then computes the queries and asks the context to attend. Contexts:
/// <see cref="SequenceAttentionContext"/> (whole sequences at once, causal for training or bidirectional for an
/// encoder, with what the backward needs saved) and <c>Inference.CachedAttentionContext</c> (new rows against a
/// KV cache: prefill and decode).
/// </summary>
public interface IAttentionContext
{
    /// <summary>
    /// Takes the new rows' keys <c>a.K</c> and values <c>a.V</c> [rows, d] (not yet rotated) of layer
    /// <paramref name="layer"/>, and returns how many rows go on through the rest of the block (fewer only when a
    /// decode context drops rows whose outputs nobody reads; it then moves the rows that go on, of <c>a.Qkv</c> and
    /// <paramref name="x"/>, to the front).
    /// </summary>
    int AcceptKeysAndValues(int layer, int rows, BlockActivations a, float[] x);

    /// <summary>Attention output <c>a.Att</c> [rows, d] from the queries <c>a.Q</c> [rows, d] (rotated here).</summary>
    void Attend(int layer, int rows, BlockActivations a);
}
