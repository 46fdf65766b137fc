namespace TokenFormer.Model.Training;

/// <summary>
/// Mean next-token cross-entropy of a model over given windows of a token stream, run in batches of a
/// <see cref="ModelRunner"/>'s shape (B windows of T + 1 ids; a last partial batch is padded and masked out).
/// Sums per-token losses in double in a fixed order, so the result does not depend on the thread count's timing.
/// </summary>
public sealed class Evaluator
{
    private readonly ModelRunner _runner;
    private readonly int[] _window, _tokens, _targets;
    private readonly float[] _mask;

    /// <summary>Evaluates with <paramref name="runner"/> (training or not; its gradients are left untouched).</summary>
    public Evaluator(ModelRunner runner)
    {
        _runner = runner;
        int n = runner.Rows;
        _window = new int[runner.Sequence + 1];
        _tokens = new int[n];
        _targets = new int[n];
        _mask = new float[n];
    }

    /// <summary>
    /// <paramref name="count"/> window starts spread evenly over a stream of <paramref name="length"/> ids (or every
    /// non-overlapping window when fewer fit): start_i = ⌊i·(length − T − 1)/(count − 1)⌋.
    /// </summary>
    public static long[] EvenlySpaced(long length, int sequence, int count)
    {
        long last = length - sequence - 1;
        if (last < 0) return [];
        long fit = last / sequence + 1;
        if (fit <= count) return Enumerable.Range(0, (int)fit).Select(i => (long)i * sequence).ToArray();
        var starts = new long[count];
        for (int i = 0; i < count; i++) starts[i] = count == 1 ? 0 : (long)((double)i * last / (count - 1));
        return starts;
    }

    /// <summary>Mean loss over the windows starting at <paramref name="starts"/> (each T + 1 ids), and the tokens scored.</summary>
    public (double Loss, long Tokens) Run(ITokenSource source, IReadOnlyList<long> starts)
    {
        if (starts.Count == 0) throw new ArgumentException("no windows to evaluate");
        int b = _runner.Batch, t = _runner.Sequence;
        double sum = 0;
        long scored = 0;
        for (int first = 0; first < starts.Count; first += b)
        {
            int valid = Math.Min(b, starts.Count - first);
            for (int r = 0; r < b; r++)
            {
                long start = starts[first + Math.Min(r, valid - 1)];
                source.CopyTo(start, _window);
                _window.AsSpan(0, t).CopyTo(_tokens.AsSpan(r * t, t));
                _window.AsSpan(1, t).CopyTo(_targets.AsSpan(r * t, t));
                _mask.AsSpan(r * t, t).Fill(r < valid ? 1f : 0f);
            }
            _runner.Forward(_tokens, _targets, _mask);
            ReadOnlySpan<float> rows = _runner.RowLoss;
            for (int i = 0; i < valid * t; i++) sum += rows[i];
            scored += valid * t;
        }
        return (sum / scored, scored);
    }
}
