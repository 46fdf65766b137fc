namespace TokenFormer.Model.Inference;

/// <summary>
/// Autoregressive generation with a pre-allocated KV cache (<see cref="IncrementalRunner"/>) for up to
/// <see cref="MaxBatch"/> prompts at once. The prompts are prefilled together (their rows concatenated, in passes
/// of at most <see cref="IncrementalRunner.MaxRows"/> rows, logits only for each prompt's last token); then every
/// decode step runs the last token of all live sequences as one batch of rows (M = live batch). Each sequence keeps
/// its own positions, so prompts of different lengths need no padding and a prompt generates the same tokens alone
/// or in a batch. NOT thread-safe; one instance per thread/queue.
/// </summary>
public sealed class Generator
{
    private readonly IncrementalRunner _runner;
    private readonly Sampler[] _samplers;
    private readonly int[][] _history;
    private readonly int[] _length, _generatedCount, _tokens, _slots, _positions, _logitRows, _logitSlot;
    private readonly bool[] _done;

    /// <summary>The model.</summary>
    public TokenFormerModel Model { get; }
    /// <summary>Most prompts per <see cref="Generate"/> call.</summary>
    public int MaxBatch { get; }
    /// <summary>Most positions per sequence (prompt + generated tokens).</summary>
    public int MaxLength { get; }
    /// <summary>The cached forward pass (for benchmarks and tests).</summary>
    public IncrementalRunner Runner => _runner;
    /// <summary>
    /// Why each sequence of the last <see cref="Generate"/> ended: "stop" (stop id or onToken returned false), "length",
    /// or "cancelled" (its own token in <c>sequenceCancel</c> fired).
    /// </summary>
    public IReadOnlyList<string> LastFinishReasons { get; private set; } = [];

    /// <summary>
    /// Decode steps (batched forward passes after the prefill) run since this generator was built. Incremented before
    /// each step's forward pass; may be read from any thread (the server's tests count the steps a sequence takes after
    /// its client has gone).
    /// </summary>
    public long DecodeSteps => Interlocked.Read(ref _decodeSteps);
    private long _decodeSteps;

    /// <summary>
    /// maxLength 0 → config.MaxPositionEmbeddings. KV cache for maxBatch sequences × maxLength positions, allocated once.
    /// </summary>
    public Generator(TokenFormerModel model, int maxBatch = 1, int maxLength = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (maxBatch < 1) throw new ArgumentException($"maxBatch must be at least 1 (got {maxBatch})");
        if (maxLength == 0) maxLength = model.Config.MaxPositionEmbeddings;
        if (maxLength < 1 || maxLength > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"maxLength must be in [1, max_position_embeddings {model.Config.MaxPositionEmbeddings}] (got {maxLength}; 0 = the model's maximum)");
        Model = model;
        MaxBatch = maxBatch;
        MaxLength = maxLength;
        _runner = new IncrementalRunner(model, maxBatch, maxLength);
        _samplers = new Sampler[maxBatch];
        _history = new int[maxBatch][];
        for (int i = 0; i < maxBatch; i++) { _samplers[i] = new Sampler(model.Vocab); _history[i] = new int[maxLength]; }
        _length = new int[maxBatch]; _generatedCount = new int[maxBatch]; _done = new bool[maxBatch];
        int rows = _runner.MaxRows;
        _tokens = new int[rows]; _slots = new int[rows]; _positions = new int[rows];
        _logitRows = new int[maxBatch]; _logitSlot = new int[maxBatch];
    }

    /// <summary>
    /// Generates for each prompt (prompts.Count ≤ MaxBatch; prompt length + MaxNewTokens ≤ MaxLength, else ArgumentException
    /// with the numbers). onToken(promptIndex, tokenId) is called as each token is produced (stop ids are reported too);
    /// return false to stop that sequence. Returns the generated ids per prompt (prompt excluded; a stop id that ended
    /// the sequence is not included). Cancellation throws <see cref="OperationCanceledException"/> between steps.
    /// <paramref name="sequenceCancel"/> (one token per prompt, optional) ends a single sequence instead: it is checked
    /// before every decode step, so a sequence whose token fired takes no further step (finish reason "cancelled")
    /// while the others of the batch go on.
    /// </summary>
    public int[][] Generate(IReadOnlyList<int[]> prompts, SamplingOptions options,
        Func<int, int, bool>? onToken = null, CancellationToken cancel = default, IReadOnlyList<CancellationToken>? sequenceCancel = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int b = prompts.Count;
        if (b == 0) return [];
        if (b > MaxBatch) throw new ArgumentException($"{b} prompts, but this generator was built for at most {MaxBatch} at once");
        if (sequenceCancel is not null && sequenceCancel.Count != b)
            throw new ArgumentException($"{sequenceCancel.Count} sequence cancellation tokens for {b} prompts");
        int vocab = Model.Vocab;
        for (int i = 0; i < b; i++)
        {
            int[] prompt = prompts[i] ?? throw new ArgumentException($"prompt {i} is null");
            if (prompt.Length == 0) throw new ArgumentException($"prompt {i} is empty (give at least one token, e.g. the end-of-text id)");
            if (prompt.Length + options.MaxNewTokens > MaxLength)
                throw new ArgumentException($"prompt {i} has {prompt.Length} tokens; with {options.MaxNewTokens} new tokens that is " +
                    $"{prompt.Length + options.MaxNewTokens}, more than the maximum length {MaxLength}");
            foreach (int id in prompt)
                if ((uint)id >= (uint)vocab) throw new ArgumentException($"prompt {i}: token id {id} is outside the vocabulary [0, {vocab})");
        }
        foreach (int id in options.StopIds)
            if ((uint)id >= (uint)vocab) throw new ArgumentException($"stop id {id} is outside the vocabulary [0, {vocab})");

        var output = new List<int>[b];
        var reasons = new string[b];
        for (int i = 0; i < b; i++)
        {
            output[i] = new List<int>(options.MaxNewTokens);
            reasons[i] = "length";
            prompts[i].CopyTo(_history[i], 0);
            _length[i] = prompts[i].Length;
            _generatedCount[i] = 0;
            _done[i] = options.MaxNewTokens == 0;
            _samplers[i].Reset(options.Seed);
        }

        // prefill: all prompt rows, concatenated, in passes of at most MaxRows rows
        int rowsPerPass = _runner.MaxRows;
        int slot = 0, position = 0;
        while (slot < b && options.MaxNewTokens > 0)
        {
            cancel.ThrowIfCancellationRequested();
            int n = 0, logits = 0;
            while (n < rowsPerPass && slot < b)
            {
                int[] prompt = prompts[slot];
                _tokens[n] = prompt[position]; _slots[n] = slot; _positions[n] = position;
                if (position == prompt.Length - 1)
                {
                    _logitRows[logits] = n; _logitSlot[logits++] = slot;
                    slot++; position = 0;
                }
                else position++;
                n++;
            }
            _runner.Forward(_tokens.AsSpan(0, n), _slots.AsSpan(0, n), _positions.AsSpan(0, n), _logitRows.AsSpan(0, logits));
            for (int j = 0; j < logits; j++) Choose(_logitSlot[j], j, options, onToken, output, reasons);
        }

        // decode: the last token of every live sequence, one row each
        while (true)
        {
            int n = 0;
            for (int i = 0; i < b; i++)
            {
                if (_done[i]) continue;
                if (sequenceCancel is not null && sequenceCancel[i].IsCancellationRequested) { _done[i] = true; reasons[i] = "cancelled"; continue; }
                _tokens[n] = _history[i][_length[i] - 1]; _slots[n] = i; _positions[n] = _length[i] - 1;
                _logitRows[n] = n; _logitSlot[n] = i;
                n++;
            }
            if (n == 0) break;
            cancel.ThrowIfCancellationRequested();
            Interlocked.Increment(ref _decodeSteps);
            _runner.Forward(_tokens.AsSpan(0, n), _slots.AsSpan(0, n), _positions.AsSpan(0, n), _logitRows.AsSpan(0, n));
            for (int j = 0; j < n; j++) Choose(_logitSlot[j], j, options, onToken, output, reasons);
        }
        LastFinishReasons = reasons;
        var result = new int[b][];
        for (int i = 0; i < b; i++) result[i] = output[i].ToArray();
        return result;
    }

    /// <summary>Samples sequence <paramref name="i"/>'s next token from logit row <paramref name="row"/> and updates its state.</summary>
    private void Choose(int i, int row, SamplingOptions options, Func<int, int, bool>? onToken, List<int>[] output, string[] reasons)
    {
        int token = _samplers[i].Sample(_runner.Logits(row), _history[i].AsSpan(0, _length[i]), options);
        _generatedCount[i]++;
        bool isStop = false;
        foreach (int s in options.StopIds) if (s == token) { isStop = true; break; }
        bool keepGoing = onToken?.Invoke(i, token) ?? true;
        if (isStop) { reasons[i] = "stop"; _done[i] = true; return; }
        output[i].Add(token);
        _history[i][_length[i]++] = token;
        if (!keepGoing) { reasons[i] = "stop"; _done[i] = true; return; }
        if (_generatedCount[i] >= options.MaxNewTokens) _done[i] = true;
    }
}
