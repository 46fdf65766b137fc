namespace TokenFormer.Model.Inference;

/// <summary>
/// Chooses the next token from one row of logits [V] (docs/architecture.md, Generation): repetition penalty, then greedy argmax when the
/// temperature is 0, else logits / temperature, top-k (values strictly below the k-th largest → −∞, ties kept),
/// top-p (sorted descending, a token is removed when the cumulative probability before it already exceeds p, so the
/// top token is always kept), softmax and a multinomial draw from its own seeded generator. Deterministic for a
/// seed. Scratch buffers are allocated once per vocabulary size, so steady-state sampling allocates nothing.
/// Not thread-safe.
/// </summary>
public sealed class Sampler
{
    private readonly float[] _keys;
    private readonly int[] _order;
    private readonly int[] _stamp;
    private int _stampValue;
    private Random _rng = new(0);

    /// <summary>Vocabulary size V.</summary>
    public int Vocab { get; }

    /// <summary>A sampler for rows of <paramref name="vocab"/> logits.</summary>
    public Sampler(int vocab)
    {
        if (vocab <= 0) throw new ArgumentException($"vocabulary size must be positive (got {vocab})");
        Vocab = vocab;
        _keys = new float[vocab];
        _order = new int[vocab];
        _stamp = new int[vocab];
    }

    /// <summary>Restarts the random generator from <paramref name="seed"/>.</summary>
    public void Reset(int seed) => _rng = new Random(seed);

    /// <summary>
    /// The next token for <paramref name="logits"/> [V] (modified in place) given the tokens seen so far
    /// <paramref name="history"/> (prompt + output; used by the repetition penalty).
    /// </summary>
    public int Sample(Span<float> logits, ReadOnlySpan<int> history, SamplingOptions options)
    {
        if (logits.Length != Vocab) throw new ArgumentException($"logits: expected {Vocab} values, got {logits.Length}");
        if (options.RepetitionPenalty != 1f) ApplyRepetitionPenalty(logits, history, options.RepetitionPenalty);
        if (options.Temperature == 0f) return Argmax(logits);
        float inv = 1f / options.Temperature;
        for (int i = 0; i < logits.Length; i++) logits[i] *= inv;
        if (options.TopK > 0 && options.TopK < Vocab) ApplyTopK(logits, options.TopK);
        if (options.TopP < 1f) ApplyTopP(logits, options.TopP);
        return Draw(logits, _rng.NextDouble());
    }

    /// <summary>Index of the largest logit (the lowest index among ties).</summary>
    public static int Argmax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        float max = logits[0];
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > max) { max = logits[i]; best = i; }
        return best;
    }

    /// <summary>CTRL repetition penalty: each distinct id in <paramref name="history"/> gets l/θ when l &gt; 0, else l·θ.</summary>
    public void ApplyRepetitionPenalty(Span<float> logits, ReadOnlySpan<int> history, float penalty)
    {
        if (++_stampValue == int.MaxValue) { Array.Clear(_stamp); _stampValue = 1; }
        foreach (int id in history)
        {
            if ((uint)id >= (uint)logits.Length || _stamp[id] == _stampValue) continue;
            _stamp[id] = _stampValue;
            float l = logits[id];
            logits[id] = l > 0 ? l / penalty : l * penalty;
        }
    }

    /// <summary>Sets every logit strictly below the k-th largest to −∞ (ties with the k-th are kept).</summary>
    public void ApplyTopK(Span<float> logits, int k)
    {
        if (k <= 0 || k >= logits.Length) return;
        float kth = KthLargest(logits, k);
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] < kth) logits[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// Nucleus filter: sorts the finite logits descending (ties by index), and sets to −∞ every token whose preceding
    /// cumulative softmax probability already exceeds <paramref name="p"/>.
    /// </summary>
    public void ApplyTopP(Span<float> logits, float p)
    {
        if (p >= 1f) return;
        int count = 0;
        float max = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (float.IsNegativeInfinity(l)) continue;
            _keys[count] = -l;
            _order[count++] = i;
            if (l > max) max = l;
        }
        if (count == 0) return;
        // ascending by −logit, ties by index (the sort is not stable, so sort tie runs by index afterwards)
        Array.Sort(_keys, _order, 0, count);
        for (int s = 0; s < count;)
        {
            int e = s + 1;
            while (e < count && _keys[e] == _keys[s]) e++;
            if (e - s > 1) Array.Sort(_order, s, e - s);
            s = e;
        }
        double total = 0;
        for (int i = 0; i < count; i++) total += Math.Exp(-_keys[i] - max);
        double cumulative = 0;
        for (int i = 0; i < count; i++)
        {
            if (cumulative / total > p) logits[_order[i]] = float.NegativeInfinity;
            cumulative += Math.Exp(-_keys[i] - max);
        }
    }

    /// <summary>
    /// Multinomial draw from softmax(<paramref name="logits"/>) with the uniform number <paramref name="u"/> in [0, 1):
    /// the first index whose cumulative probability exceeds u (in index order).
    /// </summary>
    public static int Draw(ReadOnlySpan<float> logits, double u)
    {
        float max = float.NegativeInfinity;
        foreach (float l in logits) if (l > max) max = l;
        if (float.IsNegativeInfinity(max) || float.IsNaN(max)) return Argmax(logits);
        double total = 0;
        foreach (float l in logits) total += Math.Exp(l - max);
        double target = u * total, cumulative = 0;
        int last = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNegativeInfinity(logits[i])) continue;
            cumulative += Math.Exp(logits[i] - max);
            last = i;
            if (cumulative > target) return i;
        }
        return last;
    }

    /// <summary>The k-th largest value (1-based) by a selection over a scratch copy.</summary>
    private float KthLargest(ReadOnlySpan<float> values, int k)
    {
        Span<float> a = _keys.AsSpan(0, values.Length);
        values.CopyTo(a);
        // quickselect for index k−1 in descending order
        int lo = 0, hi = a.Length - 1, target = k - 1;
        while (lo < hi)
        {
            float pivot = Median3(a[lo], a[(lo + hi) >>> 1], a[hi]);
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] > pivot) i++;
                while (a[j] < pivot) j--;
                if (i <= j) { (a[i], a[j]) = (a[j], a[i]); i++; j--; }
            }
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else break;
        }
        return a[target];
    }

    private static float Median3(float a, float b, float c) =>
        Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));
}
