using TokenFormer.Model.Adapters;
using TokenFormer.Model.Architecture;

namespace TokenFormer.Model.Inference;

/// <summary>
/// Inference forward pass with a <see cref="KvCache"/>: takes up to <see cref="MaxRows"/> new tokens, each tagged with
/// a cache slot (sequence) and a position, runs them through the model's one definition (<see cref="TokenFormerStack"/>)
/// with a <see cref="CachedAttentionContext"/> as one batch of rows (every Pattention is one product over all rows),
/// appends their keys and values to the cache, and computes logits only for the rows asked for. Prefill of prompts
/// and the decode step of all live sequences are the same call. Rows of one slot must be consecutive, at consecutive
/// increasing positions, with every earlier position of that slot already in the cache. All buffers are allocated
/// in the constructor; a call allocates nothing. Not thread-safe.
/// </summary>
public sealed class IncrementalRunner
{
    private readonly TokenFormerStack _stack;
    private readonly CachedAttentionContext _attention;
    private readonly BlockActivations[] _layers;
    private readonly FinalActivations _final;
    private readonly int _vocab;
    private readonly float[] _x, _logits;
    private readonly int[] _targetStamp, _targetLength;   // per slot: the call that named it a share's target, and the prefix length
    private readonly IWeightMatrix[] _headSlices;          // the tied head in vocabulary slices (empty: logits come whole)
    private int _logitCount, _stamp, _outputRows, _slice = -1;
    private AdapterBank? _adapters;

    /// <summary>
    /// Adapters served on this runner's model (docs/adapters.md): each cache slot bound to one of them or to the bare base
    /// (<see cref="AdapterBank.SetSlot"/>); null (default) runs the base alone. Set once; the bank attaches to the stack.
    /// </summary>
    public AdapterBank? Adapters
    {
        get => _adapters;
        set
        {
            if (_adapters != null) throw new InvalidOperationException("this runner already serves an adapter bank");
            if (value == null) return;
            value.Attach(_stack);
            _adapters = value;
        }
    }

    /// <summary>The model.</summary>
    public TokenFormerModel Model { get; }
    /// <summary>The key/value cache.</summary>
    public KvCache Cache { get; }
    /// <summary>Most rows one <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int})"/> takes.</summary>
    public int MaxRows { get; }
    /// <summary>Most logit rows one <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int})"/> returns (the cache's MaxBatch unless the constructor was given more).</summary>
    public int MaxLogitRows { get; }
    /// <summary>
    /// Vocabulary slices the logits come in: 0 when a forward call computes them whole; else each call stops at the final
    /// LayerNorm and <see cref="ComputeLogitSlice"/> computes one slice of ids at a time.
    /// </summary>
    public int LogitSlices => _headSlices.Length;

    /// <summary>
    /// Allocates a cache for <paramref name="maxBatch"/> sequences × <paramref name="maxLength"/> positions and row
    /// buffers for <paramref name="maxRows"/> rows per call (at least <paramref name="maxBatch"/>).
    /// <paramref name="maxLogitRows"/>: most logit rows per call (0 = maxBatch, what decoding needs; scoring a
    /// continuation wants the logits of every one of its rows, so it asks for more). <paramref name="logitSliceWidth"/>:
    /// 0 (default) computes the logits whole in each call; a positive width has the caller compute them in slices of
    /// that many ids (at most the vocabulary: one slice; <see cref="ComputeLogitSlice"/>), so that only
    /// [maxLogitRows, width] logits are held at once and each slice is read back from cache, not memory.
    /// </summary>
    public IncrementalRunner(TokenFormerModel model, int maxBatch, int maxLength, int maxRows = 512, int maxLogitRows = 0, int logitSliceWidth = 0)
    {
        TokenFormerConfig cfg = model.Config;
        if (maxBatch < 1) throw new ArgumentException($"maxBatch must be at least 1 (got {maxBatch})");
        if (maxLength < 1 || maxLength > cfg.MaxPositionEmbeddings)
            throw new ArgumentException($"maxLength must be in [1, max_position_embeddings {cfg.MaxPositionEmbeddings}] (got {maxLength})");
        Model = model;
        _vocab = model.Vocab;
        MaxRows = Math.Max(maxBatch, Math.Min(maxRows, maxBatch * maxLength));
        if (maxLogitRows < 0) throw new ArgumentException($"maxLogitRows must be at least 0 (got {maxLogitRows}; 0 = maxBatch)");
        MaxLogitRows = maxLogitRows == 0 ? maxBatch : Math.Min(maxLogitRows, MaxRows);
        if (logitSliceWidth < 0) throw new ArgumentException($"logitSliceWidth must be at least 0 (got {logitSliceWidth}; 0 = the whole vocabulary)");
        int width = logitSliceWidth == 0 ? _vocab : Math.Min(logitSliceWidth, _vocab);
        if ((long)MaxLogitRows * width > Array.MaxLength) throw new ArgumentException($"logits [{MaxLogitRows}, {width}] are too large");
        Cache = new KvCache(cfg.NumLayers, maxBatch, maxLength, cfg.HiddenSize);
        _stack = new TokenFormerStack(model);
        _attention = new CachedAttentionContext(cfg, Cache, MaxRows, MaxLogitRows);
        // one set of activations serves every layer: nothing is kept for a backward
        var shared = new BlockActivations(cfg, MaxRows, shareScores: true);
        _layers = Enumerable.Repeat(shared, cfg.NumLayers).ToArray();
        _final = new FinalActivations(MaxRows, cfg.HiddenSize);
        _x = new float[MaxRows * cfg.HiddenSize];
        _logits = new float[MaxLogitRows * width];
        _headSlices = logitSliceWidth == 0 ? []
            : Enumerable.Range(0, (_vocab + width - 1) / width).Select(i => _stack.Embedding.RowRange(i * width, Math.Min(width, _vocab - i * width))).ToArray();
        _targetStamp = new int[maxBatch];
        _targetLength = new int[maxBatch];
    }

    /// <summary>
    /// Logits [V] of the <paramref name="index"/>-th logit row of the last <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int})"/>;
    /// with <see cref="LogitSlices"/>, those of the slice last computed ([its width], ids from <see cref="ComputeLogitSlice"/>'s answer).
    /// </summary>
    public Span<float> Logits(int index)
    {
        if ((uint)index >= (uint)_logitCount) throw new ArgumentOutOfRangeException(nameof(index), $"the last forward computed {_logitCount} logit rows");
        if (_headSlices.Length == 0) return _logits.AsSpan(index * _vocab, _vocab);
        if (_slice < 0) throw new InvalidOperationException("this runner computes logits in vocabulary slices: call ComputeLogitSlice first");
        int width = _headSlices[_slice].Rows;
        return _logits.AsSpan(index * width, width);
    }

    /// <summary>
    /// Computes the logits of the last forward call's logit rows over vocabulary slice <paramref name="slice"/> (of
    /// <see cref="LogitSlices"/>; read them with <see cref="Logits"/>) and returns the slice's first id.
    /// </summary>
    public int ComputeLogitSlice(int slice)
    {
        if ((uint)slice >= (uint)_headSlices.Length) throw new ArgumentOutOfRangeException(nameof(slice), $"slice {slice} is outside [0, {_headSlices.Length})");
        if (_outputRows > 0) _stack.Head(_outputRows, _final, _headSlices[slice], _logits);
        _slice = slice;
        return slice * _headSlices[0].Rows;
    }

    /// <summary>
    /// Runs rows r = 0…n−1 (token <paramref name="tokens"/>[r] of slot <paramref name="slots"/>[r] at position
    /// <paramref name="positions"/>[r]) through the model, writing their keys and values into the cache, and computes
    /// the logits of the rows listed in <paramref name="logitRows"/> (at most MaxBatch; read them with
    /// <see cref="Logits"/> in that order; strictly increasing).
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions, ReadOnlySpan<int> logitRows) =>
        Forward(tokens, slots, positions, logitRows, []);

    /// <summary>
    /// <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int})"/> with prefixes
    /// shared between slots (<see cref="SharedPrefix"/>): in every layer, once this call's keys and values are written,
    /// positions [0, Length) of slot From are copied to slot To, so this call's rows of slot To (all at positions at or
    /// after Length) attend to them. The prefix's positions must be in the cache by then (written by an earlier call or
    /// by this one); each To slot appears once and is no share's From, and with an adapter bank both slots run the same
    /// adapter (or both the base).
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions, ReadOnlySpan<int> logitRows,
        ReadOnlySpan<SharedPrefix> shared)
    {
        int n = tokens.Length;
        if (n == 0 || n > MaxRows) throw new ArgumentException($"rows: expected 1 to {MaxRows}, got {n}");
        if (slots.Length != n || positions.Length != n) throw new ArgumentException($"slots ({slots.Length}) and positions ({positions.Length}) must match the {n} tokens");
        if (logitRows.Length > MaxLogitRows) throw new ArgumentException($"at most {MaxLogitRows} logit rows per call (got {logitRows.Length})");
        for (int i = 0; i < n; i++)
        {
            if ((uint)tokens[i] >= (uint)_vocab) throw new ArgumentException($"token id {tokens[i]} at row {i} is outside the vocabulary [0, {_vocab})");
            if ((uint)slots[i] >= (uint)Cache.MaxBatch) throw new ArgumentException($"slot {slots[i]} at row {i} is outside [0, {Cache.MaxBatch})");
            if ((uint)positions[i] >= (uint)Cache.MaxLength) throw new ArgumentException($"position {positions[i]} at row {i} is outside [0, {Cache.MaxLength})");
        }
        for (int i = 0; i < logitRows.Length; i++)
        {
            if ((uint)logitRows[i] >= (uint)n) throw new ArgumentException($"logit row {logitRows[i]} is outside the {n} rows");
            if (i > 0 && logitRows[i] <= logitRows[i - 1]) throw new ArgumentException("logit rows must be strictly increasing");
        }
        CheckShared(shared, slots, positions);
        _attention.Begin(slots, positions, logitRows, shared);
        _adapters?.Begin(slots, logitRows);
        _logitCount = logitRows.Length;
        // after the last layer, rows 0…m−1 of x are the logit rows (all rows when m = n, which needs them in order)
        _slice = -1;
        _outputRows = _stack.Forward(tokens, _x, _layers, _attention, _final, _headSlices.Length == 0 ? _logits : null);
    }

    /// <summary>Shares name slots and lengths in range, distinct targets that no share reads from, and no row of a target before its prefix ends.</summary>
    private void CheckShared(ReadOnlySpan<SharedPrefix> shared, ReadOnlySpan<int> slots, ReadOnlySpan<int> positions)
    {
        if (shared.IsEmpty) return;
        if (shared.Length > Cache.MaxBatch) throw new ArgumentException($"at most {Cache.MaxBatch} shared prefixes per call (got {shared.Length})");
        if (++_stamp == int.MaxValue) { Array.Clear(_targetStamp); _stamp = 1; }
        foreach (SharedPrefix s in shared)
        {
            if ((uint)s.From >= (uint)Cache.MaxBatch || (uint)s.To >= (uint)Cache.MaxBatch)
                throw new ArgumentException($"shared prefix {s}: slots must be in [0, {Cache.MaxBatch})");
            if (s.From == s.To) throw new ArgumentException($"shared prefix {s}: From and To are the same slot");
            if (s.Length < 1 || s.Length > Cache.MaxLength) throw new ArgumentException($"shared prefix {s}: Length must be in [1, {Cache.MaxLength}]");
            if (_targetStamp[s.To] == _stamp) throw new ArgumentException($"shared prefix {s}: slot {s.To} is the target of another share in this call");
            if (_adapters != null && _adapters.AdapterOf(s.From) != _adapters.AdapterOf(s.To))
                throw new ArgumentException($"shared prefix {s}: slots {s.From} and {s.To} run different adapters ({_adapters.AdapterOf(s.From)} and {_adapters.AdapterOf(s.To)}; −1 is the base), so their keys and values differ");
            _targetStamp[s.To] = _stamp;
            _targetLength[s.To] = s.Length;
        }
        foreach (SharedPrefix s in shared)
            if (_targetStamp[s.From] == _stamp) throw new ArgumentException($"shared prefix {s}: slot {s.From} is itself the target of a share in this call");
        for (int i = 0; i < slots.Length; i++)
            if (_targetStamp[slots[i]] == _stamp && positions[i] < _targetLength[slots[i]])
                throw new ArgumentException($"row {i} (slot {slots[i]}, position {positions[i]}) lies inside the prefix of {_targetLength[slots[i]]} positions shared into its slot");
    }
}
