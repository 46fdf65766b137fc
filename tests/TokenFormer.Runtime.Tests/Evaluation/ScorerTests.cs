using TokenFormer.Model;
using TokenFormer.Runtime.Evaluation;

namespace TokenFormer.Runtime.Tests.Evaluation;

/// <summary>
/// <see cref="LoglikelihoodScorer"/>: scoring the requests of an item together (shared prefix once, tails batched, any
/// call size) gives what scoring each alone gives, and the work counted is the prefix once plus every tail.
/// </summary>
public class ScorerTests
{
    private static readonly Lazy<LanguageModel> Model = new(() => LanguageModel.Load(Fixtures.ModelDirectory));

    private static LoglikelihoodRequest[] FourChoices() =>
    [
        new("Question: What does the Congress do with the revenue of the year?\nAnswer:", " It pays the public debt."),
        new("Question: What does the Congress do with the revenue of the year?\nAnswer:", " It is sent abroad."),
        new("Question: What does the Congress do with the revenue of the year?\nAnswer:", " Nothing."),
        new("Question: What does the Congress do with the revenue of the year?\nAnswer:", " It pays the army and the navy."),
    ];

    [Theory]
    [InlineData(256)]
    [InlineData(7)]
    [InlineData(1)]
    public void TogetherEqualsAlone_AtAnyCallSize(int maxRows)
    {
        TokenFormerModel m = Model.Value.Model;
        var alone = new LoglikelihoodScorer(m, Model.Value.Tokenizer, maxSlots: 1);
        var together = new LoglikelihoodScorer(m, Model.Value.Tokenizer, maxSlots: 4, maxRows: maxRows);
        LoglikelihoodRequest[] requests = FourChoices();
        RequestScore[] t = together.Score(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            RequestScore a = alone.Score([requests[i]])[0];
            Assert.Equal(a.Tokens, t[i].Tokens);
            Assert.Equal(a.IsGreedy, t[i].IsGreedy);
            Assert.True(Math.Abs(a.LogLikelihood - t[i].LogLikelihood) <= 1e-5 * Math.Abs(a.LogLikelihood), $"request {i}: {a.LogLikelihood} vs {t[i].LogLikelihood}");
        }
    }

    [Fact]
    public void SharedContext_RunsOnce_AndTailsAreBatched()
    {
        TokenFormerModel m = Model.Value.Model;
        var scorer = new LoglikelihoodScorer(m, Model.Value.Tokenizer, maxSlots: 4);
        LoglikelihoodRequest[] requests = FourChoices();
        EncodedRequest[] encoded = requests.Select(scorer.Encode).ToArray();
        int[][] inputs = encoded.Select(e => scorer.Input(e, out _)).ToArray();
        int p = 0;
        while (inputs.All(x => p < x.Length && x[p] == inputs[0][p])) p++;
        // the shared prefix is the context, and a little more when every choice begins with the same token (here the
        // space, which this small vocabulary does not merge with the next word)
        Assert.InRange(p, encoded[0].Context.Length, encoded[0].Context.Length + 1);
        scorer.ScoreTokens(encoded);
        long expectedRows = p + inputs.Sum(x => (long)(x.Length - p));
        Assert.Equal(expectedRows, scorer.Cost.Rows);
        // a logit row inside the shared prefix serves every request that scores it, so it is computed once
        int[] from = encoded.Select(e => scorer.Input(e, out int f) is var _ ? f : 0).ToArray();
        long expectedLogits = Math.Max(0, p - from.Min()) + inputs.Select((x, r) => (long)(x.Length - Math.Max(p, from[r]))).Sum();
        Assert.Equal(expectedLogits, scorer.Cost.LogitRows);
        Assert.Equal(1, scorer.Cost.Calls); // the prefix and all four tails in one batch of rows (the prefix shared per layer)
        long alone = inputs.Sum(x => (long)x.Length);
        Assert.True(scorer.Cost.Rows < alone, $"{scorer.Cost.Rows} rows together vs {alone} alone");
    }

    [Theory]
    [InlineData(3, 256)]   // fewer slots than one item's requests: the item is split into groups
    [InlineData(8, 256)]   // two items per batch
    [InlineData(16, 13)]   // several items per batch, many small calls
    [InlineData(16, 1024, 5)]   // calls cut by the logit rows, not the rows
    [InlineData(16, 1024, 0, 7)]   // the head in vocabulary slices of 7 ids (the last one 5 wide)
    [InlineData(8, 256, 0, 64)]    // slices of 64: the 320-id vocabulary in five
    [InlineData(4, 13, 0, 319)]    // a slice of one id at the end
    [InlineData(16, 1024, 0, 1)]   // one id per slice
    public void ScoreItems_EqualsEachItemAlone(int slots, int maxRows, int maxLogitRows = 0, int logitSliceWidth = 0)
    {
        TokenFormerModel m = Model.Value.Model;
        // alone: the whole vocabulary's logits at once, so sliced heads are compared with the unsliced one
        var alone = new LoglikelihoodScorer(m, Model.Value.Tokenizer, maxSlots: 1, logitSliceWidth: 0);
        var batched = new LoglikelihoodScorer(m, Model.Value.Tokenizer, maxSlots: slots, maxRows: maxRows, maxLogitRows: maxLogitRows, logitSliceWidth: logitSliceWidth);
        IReadOnlyList<TaskItem> items = TaskReader.Read(EvalTask.HellaSwag, EvalGoldens.Data("hellaswag.jsonl"))
            .Concat(TaskReader.Read(EvalTask.WinoGrande, EvalGoldens.Data("winogrande.jsonl"))).ToList();
        EncodedRequest[][] encoded = items.Select(i => i.Requests.Select(batched.Encode).ToArray()).ToArray();
        RequestScore[][] together = batched.ScoreItems(encoded);
        for (int i = 0; i < encoded.Length; i++)
            for (int r = 0; r < encoded[i].Length; r++)
            {
                RequestScore a = alone.ScoreTokens([encoded[i][r]])[0];
                Assert.Equal(a.IsGreedy, together[i][r].IsGreedy);
                Assert.True(Math.Abs(a.LogLikelihood - together[i][r].LogLikelihood) <= 1e-5 * Math.Abs(a.LogLikelihood), $"item {i} request {r}");
            }
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(333)]
    [InlineData(64)]
    [InlineData(1)]
    public void SlicedLogSumExp_EqualsTheWholeRows_AndKeepsTheFirstMaximum(int width)
    {
        var rng = new Random(5);
        float[] row = Enumerable.Range(0, 1000).Select(_ => (float)(rng.NextDouble() * 20 - 10)).ToArray();
        row[10] = row[900] = 12.5f;   // the maximum again in a later slice: the index is still the first
        row[11] = 12.5f;              // and once more in the same slice as the first
        (double whole, int wholeArgmax) = LoglikelihoodScorer.LogSumExp(row);
        Assert.Equal(10, wholeArgmax);
        int slices = (row.Length + width - 1) / width;
        var lse = new double[slices]; var max = new float[slices]; var argmax = new int[slices];
        for (int s = 0; s < slices; s++)
        {
            int first = s * width;
            ReadOnlySpan<float> slice = row.AsSpan(first, Math.Min(width, row.Length - first));
            (lse[s], int a) = LoglikelihoodScorer.LogSumExp(slice);
            max[s] = slice[a]; argmax[s] = first + a;
        }
        (double combined, int combinedArgmax) = LoglikelihoodScorer.CombineSlices(lse, max, argmax);
        Assert.Equal(10, combinedArgmax);
        Assert.True(Math.Abs(combined - whole) <= 1e-6 * Math.Abs(whole), $"{combined} vs {whole}");
    }

    [Fact]
    public void Encode_FollowsTheHarness()
    {
        var scorer = new LoglikelihoodScorer(Model.Value.Model, Model.Value.Tokenizer);
        var tok = Model.Value.Tokenizer;
        // trailing whitespace of the context moves to the continuation
        EncodedRequest moved = scorer.Encode(new("The Senate ", "met"));
        Assert.Equal(tok.Encode("The Senate"), moved.Context);
        Assert.Equal(tok.Encode("The Senate met")[moved.Context.Length..], moved.Continuation);
        // an empty context is the end-of-text token alone
        EncodedRequest empty = scorer.Encode(new("", " Tom"));
        Assert.Equal([tok.EndOfTextId!.Value], empty.Context);
        Assert.Equal(tok.Encode(" Tom"), empty.Continuation);
    }

    [Fact]
    public void LongInputs_LoseTheirFirstTokens()
    {
        var scorer = new LoglikelihoodScorer(Model.Value.Model, Model.Value.Tokenizer);
        int max = scorer.MaxLength;
        int[] context = Enumerable.Range(0, max + 20).Select(i => 1 + i % 200).ToArray();
        int[] input = scorer.Input(new EncodedRequest(context, [5, 6, 7]), out int from);
        Assert.Equal(max, input.Length);
        Assert.Equal(max - 3, from);
        Assert.Equal(context[^(max - 2)..], input[..(max - 2)]);
        Assert.Equal([5, 6], input[^2..]);
        var tooLong = new EncodedRequest([1], Enumerable.Repeat(3, max + 1).ToArray());
        Assert.Throws<ArgumentException>(() => scorer.Input(tooLong, out _));
    }

    [Fact]
    public void RollingWindows_PredictEveryTokenOnce_WithFullContexts()
    {
        int[] tokens = Enumerable.Range(1, 23).ToArray();
        List<EncodedRequest> w = RollingPerplexity.Windows(tokens, 0, 8);
        Assert.Equal(tokens, w.SelectMany(x => x.Continuation).ToArray());
        Assert.Equal([0], w[0].Context);
        Assert.Equal(tokens[..8], w[0].Continuation);
        for (int i = 1; i < w.Count; i++)
        {
            Assert.Equal(8 + 1, w[i].Context.Length + w[i].Continuation.Length); // input of max length, plus the last target
            Assert.Equal(tokens.AsSpan(w[i].Continuation[0] - 1 - w[i].Context.Length, w[i].Context.Length).ToArray(), w[i].Context);
        }
        Assert.Equal([17, 18, 19, 20, 21, 22, 23], w[^1].Continuation);
    }
}
