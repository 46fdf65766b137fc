namespace TokenFormer.Runtime;

/// <summary>
/// How well a model predicts a text: the mean next-token cross-entropy <see cref="Loss"/> (nats) over
/// <see cref="TokensScored"/> predictions in <see cref="Windows"/> non-overlapping windows of <see cref="Sequence"/>
/// tokens, out of the <see cref="TextTokens"/> the text encodes to.
/// </summary>
public sealed record TextScore(double Loss, long TokensScored, int Windows, int Sequence, int TextTokens)
{
    /// <summary>exp(<see cref="Loss"/>).</summary>
    public double Perplexity => Math.Exp(Loss);
}
