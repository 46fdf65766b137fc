using System.Runtime.InteropServices;
using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;
using TokenFormer.Model;
using TokenFormer.Model.Inference;
using TokenFormer.Model.Training;
using TokenFormer.Text;

namespace TokenFormer.Runtime.Evaluation;

/// <summary>A request as token ids: the context and the continuation whose log-likelihood is wanted.</summary>
public readonly record struct EncodedRequest(int[] Context, int[] Continuation);

/// <summary>
/// Work done by a <see cref="LoglikelihoodScorer"/>, counted as the rows are scheduled: rows (tokens) through the model,
/// logit rows (the tied head and log-softmax), forward calls, and forward FLOPs counted like
/// <see cref="TrainingFlops"/>'s forward part: per row 2·N_ne + 4·L·d·(position + 1) (the products with every
/// parameter token, and QKᵀ and AV over the positions it attends to), per logit row 2·V·d.
/// </summary>
public sealed class ScoringCost
{
    /// <summary>Rows (tokens) run through the blocks.</summary>
    public long Rows { get; private set; }
    /// <summary>Rows whose logits were computed.</summary>
    public long LogitRows { get; private set; }
    /// <summary>Forward calls of the <see cref="IncrementalRunner"/>.</summary>
    public long Calls { get; private set; }
    /// <summary>Forward FLOPs as defined above.</summary>
    public double Flops { get; private set; }

    internal void AddRow(TokenFormerConfig c, int position) { Rows++; Flops += RowFlops(c, position); }
    internal void AddLogitRow(TokenFormerConfig c) { LogitRows++; Flops += 2.0 * c.Vocab * c.HiddenSize; }
    internal void AddCall() => Calls++;

    /// <summary>Forward FLOPs of one row at <paramref name="position"/> (without the head).</summary>
    public static double RowFlops(TokenFormerConfig c, int position) =>
        2.0 * TrainingFlops.NonEmbeddingParameters(c) + 4.0 * c.NumLayers * c.HiddenSize * (position + 1);

    /// <summary>
    /// The cost of one plain forward pass over <paramref name="inputLength"/> tokens that computes the logits of its
    /// last <paramref name="logitRows"/> rows: what scoring one request alone costs.
    /// </summary>
    public static ScoringCost OneForward(TokenFormerConfig c, int inputLength, int logitRows)
    {
        var cost = new ScoringCost();
        cost.AddCall();
        for (int p = 0; p < inputLength; p++) cost.AddRow(c, p);
        for (int i = 0; i < logitRows; i++) cost.AddLogitRow(c);
        return cost;
    }

    /// <summary>Adds another count to this one.</summary>
    public void Add(ScoringCost other)
    {
        Rows += other.Rows; LogitRows += other.LogitRows; Calls += other.Calls; Flops += other.Flops;
    }
}

/// <summary>
/// Log-likelihood of continuations given contexts, as lm-evaluation-harness computes it for a causal LM (docs/evaluation.md,
/// "Scoring"): the pair is encoded the harness's way (trailing whitespace of the context moved to the continuation, the
/// whole encoded and the continuation's ids taken after the context's), an empty context becomes the end-of-text id,
/// the input is cut from the left to the model's context, and the log-softmax of the continuation's positions is summed.
/// The requests of one item share work: the longest common prefix of their inputs (the context, for a multiple-choice
/// question) runs once in the item's first cache slot, its keys and values are copied to one slot per request inside
/// the forward call, layer by layer (<see cref="SharedPrefix"/>), and the remaining rows of all requests run in the
/// same batch of rows (<see cref="IncrementalRunner"/>). Not thread-safe.
/// </summary>
public sealed class LoglikelihoodScorer
{
    private readonly TokenFormerModel _model;
    private readonly Tokenizer? _tokenizer;
    private readonly IncrementalRunner _runner;
    private readonly int _vocab, _slots;
    private readonly int[] _tokens, _rowSlots, _positions, _logitRows;
    private readonly List<(int Logit, int Request, int Target)> _wanted = [];
    private readonly List<float> _targetLogits = [];   // per wanted entry: the logit of its target, taken from its slice
    private readonly List<SharedPrefix> _shared = [];

    /// <summary>The scorer's model.</summary>
    public TokenFormerModel Model => _model;
    /// <summary>Longest input (the model's context, max_position_embeddings): longer inputs lose their first tokens.</summary>
    public int MaxLength { get; }
    /// <summary>Positions the KV cache holds per request: the longest input this scorer can run.</summary>
    public int CacheLength { get; }
    /// <summary>Requests scored together (more are scored in groups of this many).</summary>
    public int MaxRequestsTogether => _slots;
    /// <summary>Everything this scorer has run so far.</summary>
    public ScoringCost Cost { get; } = new();

    /// <summary>
    /// A scorer for <paramref name="model"/>; <paramref name="tokenizer"/> encodes text requests (null: only
    /// <see cref="ScoreTokens"/>). Requests of one item run together up to <paramref name="maxSlots"/>; one forward call
    /// takes at most <paramref name="maxRows"/> rows, of which at most <paramref name="maxLogitRows"/> ask for logits
    /// (0 = all of them; the logits of one call are held at once, V floats a row). <paramref name="cacheLength"/>:
    /// positions the KV cache holds per request (0 = the model's context); inputs are still cut to the model's context,
    /// so a smaller cache only serves callers that know their longest input (it saves memory: the cache holds
    /// maxSlots × cacheLength positions per layer). <paramref name="logitSliceWidth"/>: vocabulary ids per slice of the
    /// head, whose logits are held for one slice at a time (0 = the whole vocabulary at once).
    /// </summary>
    public LoglikelihoodScorer(TokenFormerModel model, Tokenizer? tokenizer, int maxSlots = 8, int maxRows = 256, int cacheLength = 0, int maxLogitRows = 0,
        int logitSliceWidth = DefaultLogitSliceWidth)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (maxSlots < 1) throw new InvalidSettingException("MaxSlots", "must be at least 1", maxSlots);
        if (maxRows < 1) throw new InvalidSettingException("MaxRows", "must be at least 1", maxRows);
        if (maxLogitRows < 0) throw new InvalidSettingException("MaxLogitRows", "must be at least 0", maxLogitRows, "0 = maxRows");
        if (logitSliceWidth < 0) throw new InvalidSettingException("LogitSliceWidth", "must be at least 0", logitSliceWidth, "0 = the whole vocabulary");
        _model = model;
        _tokenizer = tokenizer;
        _vocab = model.Vocab;
        _slots = maxSlots;
        MaxLength = model.Config.MaxPositionEmbeddings;
        if (cacheLength < 0 || cacheLength > MaxLength) throw new InvalidSettingException("CacheLength", $"must be in [0, max_position_embeddings {MaxLength}]", cacheLength, "0 = the model's context");
        CacheLength = cacheLength == 0 ? MaxLength : cacheLength;
        _runner = new IncrementalRunner(model, maxSlots, CacheLength, Math.Max(maxRows, maxSlots),
            maxLogitRows: Math.Max(maxLogitRows == 0 ? maxRows : maxLogitRows, maxSlots), logitSliceWidth: logitSliceWidth == 0 ? _vocab : logitSliceWidth);
        int rows = _runner.MaxRows;
        _tokens = new int[rows]; _rowSlots = new int[rows]; _positions = new int[rows]; _logitRows = new int[rows];
        _logSoftmax = new LogSoftmaxJob(_runner.MaxLogitRows, _runner.LogitSlices);
    }

    /// <summary>
    /// The harness's encoding of a (context, continuation) pair. An empty context is the end-of-text id alone (the
    /// tokenizer must have one then).
    /// </summary>
    public EncodedRequest Encode(LoglikelihoodRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Tokenizer tok = _tokenizer ?? throw new InvalidOperationException("this scorer has no tokenizer; use ScoreTokens");
        string context = request.Context, continuation = request.Continuation;
        if (context.Length == 0)
        {
            int eot = tok.EndOfTextId ?? throw new ArgumentException($"a request has an empty context, which the harness replaces by the end-of-text token, but the tokenizer has no {Tokenizer.EndOfTextToken}");
            return new EncodedRequest([eot], tok.Encode(continuation));
        }
        int spaces = HarnessText.TrailingWhitespace(context);
        if (spaces > 0)
        {
            continuation = context[^spaces..] + continuation;
            context = context[..^spaces];
        }
        int[] whole = tok.Encode(context + continuation);
        int[] ctx = tok.Encode(context);
        int n = Math.Min(ctx.Length, whole.Length);
        return new EncodedRequest(ctx, whole[n..]);
    }

    /// <summary>Encodes and scores the requests of one item (sharing their common prefix).</summary>
    public RequestScore[] Score(IReadOnlyList<LoglikelihoodRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var encoded = new EncodedRequest[requests.Count];
        for (int i = 0; i < encoded.Length; i++) encoded[i] = Encode(requests[i]);
        return ScoreTokens(encoded);
    }

    /// <summary>Scores token requests of one item, in groups of <see cref="MaxRequestsTogether"/> that share their common prefix.</summary>
    public RequestScore[] ScoreTokens(IReadOnlyList<EncodedRequest> requests) => ScoreItems([requests])[0];

    /// <summary>
    /// Scores several items together: consecutive items whose requests fit the <see cref="MaxRequestsTogether"/> slots
    /// run as one batch (every item's shared prefix in one pass of rows, then every request's own rows in another), so
    /// a forward call carries more rows. An item with more requests than slots is scored in groups of that many.
    /// Results are per item, per request, as <see cref="ScoreTokens"/> gives them.
    /// </summary>
    public RequestScore[][] ScoreItems(IReadOnlyList<IReadOnlyList<EncodedRequest>> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var results = new RequestScore[items.Count][];
        var batch = new List<Group>();
        int used = 0;
        for (int i = 0; i < items.Count; i++)
        {
            IReadOnlyList<EncodedRequest> requests = items[i] ?? throw new ArgumentException($"item {i} is null");
            results[i] = new RequestScore[requests.Count];
            for (int g = 0; g < requests.Count; g += _slots)
            {
                int k = Math.Min(_slots, requests.Count - g);
                if (used + k > _slots) { ScoreBatch(batch); batch.Clear(); used = 0; }
                batch.Add(new Group(requests, g, k, used, results[i]));
                used += k;
            }
        }
        if (batch.Count > 0) ScoreBatch(batch);
        return results;
    }

    /// <summary>The input ids the model sees for a request (context + continuation without its last id, cut from the left).</summary>
    public int[] Input(EncodedRequest r, out int scoreFrom)
    {
        if (r.Continuation.Length == 0) throw new ArgumentException("a continuation encodes to no tokens; there is nothing to score");
        if (r.Context.Length == 0) throw new ArgumentException("a context encodes to no tokens (it was only whitespace); the first continuation token has nothing to be predicted from");
        if (r.Continuation.Length > MaxLength)
            throw new ArgumentException($"a continuation of {r.Continuation.Length} tokens does not fit the model's context of {MaxLength}");
        int full = r.Context.Length + r.Continuation.Length;
        int start = Math.Max(0, full - (MaxLength + 1));
        var input = new int[full - 1 - start];
        for (int i = 0; i < input.Length; i++) input[i] = At(r, start + i);
        scoreFrom = input.Length - r.Continuation.Length;
        foreach (int id in input)
            if ((uint)id >= (uint)_vocab) throw new ArgumentException($"token id {id} is outside the model's vocabulary [0, {_vocab})");
        foreach (int id in r.Continuation)
            if ((uint)id >= (uint)_vocab) throw new ArgumentException($"token id {id} is outside the model's vocabulary [0, {_vocab})");
        return input;
    }

    private static int At(EncodedRequest r, int i) => i < r.Context.Length ? r.Context[i] : r.Continuation[i - r.Context.Length];

    /// <summary>Requests [First, First + Count) of one item, in cache slots [Slot, Slot + Count), results into Results.</summary>
    private sealed record Group(IReadOnlyList<EncodedRequest> All, int First, int Count, int Slot, RequestScore[] Results)
    {
        public int[][] Inputs = [];
        public int[] ScoreFrom = [];
        public int Prefix;
    }

    private void ScoreBatch(List<Group> batch)
    {
        int total = batch.Sum(g => g.Count);
        var ll = new double[total];
        var greedy = new bool[total];
        Array.Fill(greedy, true);
        foreach (Group g in batch)
        {
            g.Inputs = new int[g.Count][];
            g.ScoreFrom = new int[g.Count];
            for (int r = 0; r < g.Count; r++)
            {
                g.Inputs[r] = Input(g.All[g.First + r], out g.ScoreFrom[r]);
                if (g.Inputs[r].Length > CacheLength)
                    throw new ArgumentException($"an input of {g.Inputs[r].Length} tokens is longer than this scorer's cache of {CacheLength} positions");
            }
            // the shared prefix: the whole input when alone, else the longest common prefix of the group's inputs
            int p = g.Inputs[0].Length;
            for (int r = 1; r < g.Count; r++)
            {
                int q = 0, max = Math.Min(p, g.Inputs[r].Length);
                while (q < max && g.Inputs[r][q] == g.Inputs[0][q]) q++;
                p = q;
            }
            g.Prefix = p;
        }

        // one pass of rows: each group's prefix in its first slot (a logit row there may serve several requests, each
        // with its own target), then its requests' own rows in their slots. The prefix's keys and values reach the other
        // slots inside the forward call that runs its last row, layer by layer (SharedPrefix), so prefixes and tails
        // share calls: the weights are streamed (and packed) once per call, not once per pass.
        Begin();
        foreach (Group g in batch)
        {
            int minFrom = g.ScoreFrom.Min();
            for (int pos = 0; pos < g.Prefix; pos++)
            {
                bool wantLogits = pos >= minFrom;
                if (!AddRow(g.Inputs[0][pos], g.Slot, pos, wantLogits, ll, greedy)) { pos--; continue; }
                if (!wantLogits) continue;
                for (int r = 0; r < g.Count; r++)
                    if (pos >= g.ScoreFrom[r]) _wanted.Add((_logitCount - 1, g.Slot + r, Target(g.All[g.First + r], g.Inputs[r], pos)));
            }
            for (int r = 1; r < g.Count; r++)
                if (g.Prefix > 0 && g.Inputs[r].Length > g.Prefix) _shared.Add(new SharedPrefix(g.Slot, g.Slot + r, g.Prefix));
            for (int r = 0; r < g.Count; r++)
            {
                for (int pos = g.Prefix; pos < g.Inputs[r].Length; pos++)
                {
                    bool wantLogits = pos >= g.ScoreFrom[r];
                    if (!AddRow(g.Inputs[r][pos], g.Slot + r, pos, wantLogits, ll, greedy)) { pos--; continue; }
                    if (wantLogits) _wanted.Add((_logitCount - 1, g.Slot + r, Target(g.All[g.First + r], g.Inputs[r], pos)));
                }
            }
        }
        Flush(ll, greedy);
        foreach (Group g in batch)
            for (int r = 0; r < g.Count; r++)
                g.Results[g.First + r] = new RequestScore(ll[g.Slot + r], greedy[g.Slot + r], g.All[g.First + r].Continuation.Length);
    }

    /// <summary>The id row <paramref name="pos"/> of the input predicts: the next input id, or the continuation's last id.</summary>
    private static int Target(EncodedRequest r, int[] input, int pos) =>
        pos + 1 < input.Length ? input[pos + 1] : r.Continuation[^1];

    private int _rowCount, _logitCount;

    private void Begin() { _rowCount = 0; _logitCount = 0; _wanted.Clear(); _shared.Clear(); }

    /// <summary>Queues a row; when the call is full, runs it first and returns false (the caller adds the row again).</summary>
    private bool AddRow(int token, int slot, int position, bool logits, double[] ll, bool[] greedy)
    {
        if (_rowCount == _tokens.Length || (logits && _logitCount == _runner.MaxLogitRows))
        {
            Flush(ll, greedy);
            Begin();
            return false;
        }
        _tokens[_rowCount] = token; _rowSlots[_rowCount] = slot; _positions[_rowCount] = position;
        Cost.AddRow(_model.Config, position);
        if (logits) { _logitRows[_logitCount++] = _rowCount; Cost.AddLogitRow(_model.Config); }
        _rowCount++;
        return true;
    }

    private void Flush(double[] ll, bool[] greedy)
    {
        if (_rowCount == 0) return;
        _runner.Forward(_tokens.AsSpan(0, _rowCount), _rowSlots.AsSpan(0, _rowCount), _positions.AsSpan(0, _rowCount), _logitRows.AsSpan(0, _logitCount),
            CollectionsMarshal.AsSpan(_shared));
        Cost.AddCall();
        // every logit row is wanted by at least one request: the log-sum-exps of each vocabulary slice run on the worker
        // threads while the slice is in cache, and the targets' logits are taken from the slice that holds them
        _targetLogits.Clear();
        CollectionsMarshal.SetCount(_targetLogits, _wanted.Count);
        Span<float> targetLogits = CollectionsMarshal.AsSpan(_targetLogits);
        int slices = _runner.LogitSlices;   // at least 1: the scorer's runner always computes its head in slices
        for (int slice = 0; slice < slices; slice++)
        {
            int first = _runner.ComputeLogitSlice(slice);
            _logSoftmax.Run(_runner, _logitCount, slice, first);
            for (int w = 0; w < _wanted.Count; w++)
            {
                (int logit, _, int target) = _wanted[w];
                Span<float> row = _runner.Logits(logit);
                if (target >= first && target - first < row.Length) targetLogits[w] = row[target - first];
            }
        }
        _logSoftmax.Combine(_logitCount, slices);
        for (int w = 0; w < _wanted.Count; w++)
        {
            (int logit, int r, int target) = _wanted[w];
            ll[r] += targetLogits[w] - _logSoftmax.Lse[logit];
            if (_logSoftmax.Argmax[logit] != target) greedy[r] = false;
        }
        _wanted.Clear();
        _shared.Clear();
        _rowCount = 0; _logitCount = 0;
    }

    /// <summary>
    /// Vocabulary ids per slice of the head by default (<see cref="IncrementalRunner.ComputeLogitSlice"/>): 512 logit rows
    /// of 4,096 floats are 8 MiB, read back from cache by the log-sum-exps; whole rows of a 50k vocabulary were 100 MiB.
    /// </summary>
    public const int DefaultLogitSliceWidth = 4096;

    /// <summary>
    /// log Σ exp over the row and the index of its first maximum. The exponentials are the library's float vector exp
    /// summed in blocks (relative error of the sum about 1e-7, <see cref="SpanMath.SumExpShifted"/>): a vocabulary-sized
    /// row of scalar double exps cost about a quarter of a millisecond, a tenth of scoring a HellaSwag example.
    /// </summary>
    internal static (double Lse, int Argmax) LogSumExp(ReadOnlySpan<float> row)
    {
        float max = SpanMath.Max(row);
        int argmax = row.IndexOf(max);
        if (argmax < 0) argmax = Sampler.Argmax(row); // a NaN maximum: the comparison loop's answer
        return (max + Math.Log(SpanMath.SumExpShifted(row, max)), argmax);
    }

    private readonly LogSoftmaxJob _logSoftmax;

    /// <summary>
    /// The <see cref="LogSumExp"/> of each logit row of the last forward call: per vocabulary slice (rows split over the
    /// threads), then the slices' combined (log Σ exp of their log-sum-exps; the first maximum of the first slice that
    /// holds the row's maximum, so the index is the whole row's first maximum).
    /// </summary>
    private sealed class LogSoftmaxJob(int rows, int slices) : IParallelWork
    {
        public readonly double[] Lse = new double[rows];
        public readonly int[] Argmax = new int[rows];
        private readonly double[] _sliceLse = new double[rows * slices];
        private readonly float[] _sliceMax = new float[rows * slices];
        private readonly int[] _sliceArgmax = new int[rows * slices];
        private IncrementalRunner? _runner;
        private int _slice, _first;

        /// <summary>The log-sum-exp, maximum and its first index of rows [0, count) of the slice the runner last computed.</summary>
        public void Run(IncrementalRunner runner, int count, int slice, int first)
        {
            _runner = runner; _slice = slice; _first = first;
            Parallelism.For(count, this);
            _runner = null;
        }

        public void Execute(int index)
        {
            Span<float> row = _runner!.Logits(index);
            (double lse, int argmax) = LogSumExp(row);
            int at = index * slices + _slice;
            _sliceLse[at] = lse; _sliceMax[at] = row[argmax]; _sliceArgmax[at] = _first + argmax;
        }

        /// <summary>Combines the <paramref name="sliceCount"/> slices of rows [0, count) into <see cref="Lse"/> and <see cref="Argmax"/>.</summary>
        public void Combine(int count, int sliceCount)
        {
            for (int r = 0; r < count; r++)
            {
                int at = r * slices;
                (Lse[r], Argmax[r]) = CombineSlices(_sliceLse.AsSpan(at, sliceCount), _sliceMax.AsSpan(at, sliceCount), _sliceArgmax.AsSpan(at, sliceCount));
            }
        }
    }

    /// <summary>
    /// One row's log-sum-exp and first maximum from its vocabulary slices, in id order: each slice's log-sum-exp, maximum
    /// and the id of its first maximum. The row's first maximum is in the first slice whose maximum is the row's.
    /// </summary>
    internal static (double Lse, int Argmax) CombineSlices(ReadOnlySpan<double> lse, ReadOnlySpan<float> max, ReadOnlySpan<int> argmax)
    {
        double top = lse[0];
        int best = 0;
        for (int s = 1; s < lse.Length; s++)
        {
            top = Math.Max(top, lse[s]);
            if (max[s] > max[best]) best = s;
        }
        if (lse.Length == 1) return (top, argmax[0]);
        double sum = 0;
        foreach (double l in lse) sum += Math.Exp(l - top);
        return (top + Math.Log(sum), argmax[best]);
    }
}
