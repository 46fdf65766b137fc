using TokenFormer.Model.Inference;

namespace TokenFormer.Model.Tests.Inference;

/// <summary>KV-cached generation against recomputing the whole sequence with <see cref="ModelRunner"/>.</summary>
public class GeneratorTests
{
    public static IEnumerable<object[]> AllModels() =>
        Directory.GetDirectories(Fixtures.ModelRoot)
            .Where(d => File.Exists(Path.Combine(d, ModelDirectory.ConfigFile)) && File.Exists(Path.Combine(d, ModelDirectory.WeightsFile)))
            .Select(d => new object[] { Path.GetFileName(d) })
            .OrderBy(x => (string)x[0]);

    internal static TokenFormerModel Load(string name) => ModelDirectory.Load(Path.Combine(Fixtures.ModelRoot, name));

    internal static int[] RandomTokens(int count, int vocab, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    /// <summary>Logits of the last position of <paramref name="sequence"/> by a full forward.</summary>
    private static float[] FullForwardLastLogits(TokenFormerModel model, int[] sequence)
    {
        var runner = new ModelRunner(model, 1, sequence.Length, training: false);
        runner.Forward(sequence);
        return runner.Logits.Slice((sequence.Length - 1) * model.Vocab, model.Vocab).ToArray();
    }

    private static int PlainArgmax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    [Fact]
    public void Fixtures_CoverEveryNormalisationType()
    {
        var types = AllModels().Select(m => Load((string)m[0]).Config.Activation).ToHashSet();
        Assert.Equal(Enum.GetValues<NormActivation>().ToHashSet(), types);
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void KvCachedGreedy_ProducesExactlyTheTokensOfFullRecompute(string name)
    {
        TokenFormerModel model = Load(name);
        int[] prompt = RandomTokens(7, model.Vocab, 11);
        const int newTokens = 24;
        var generator = new Generator(model, maxBatch: 1, maxLength: 0);
        int[] cached = generator.Generate([prompt], new SamplingOptions { MaxNewTokens = newTokens, Temperature = 0 })[0];

        var sequence = prompt.ToList();
        var reference = new List<int>();
        for (int step = 0; step < newTokens; step++)
        {
            int next = PlainArgmax(FullForwardLastLogits(model, sequence.ToArray()));
            reference.Add(next);
            sequence.Add(next);
        }
        Assert.Equal(reference, cached);
        Assert.Equal("length", generator.LastFinishReasons[0]);
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void IncrementalRunner_LogitsMatchFullForward_WithPrefillSplitIntoPasses(string name)
    {
        TokenFormerModel model = Load(name);
        int total = Math.Min(40, model.Config.MaxPositionEmbeddings);
        int[] tokens = RandomTokens(total, model.Vocab, 5);
        // passes of 3 rows: the prompt's rows attend across passes through the cache; then one row at a time
        var runner = new IncrementalRunner(model, maxBatch: 2, maxLength: total, maxRows: 3);
        int position = 0, pass = 0;
        while (position < total)
        {
            int rows = position < 20 ? Math.Min(3, total - position) : 1;
            int[] slots = Enumerable.Repeat(1, rows).ToArray();
            int[] positions = Enumerable.Range(position, rows).ToArray();
            bool wanted = pass++ % 3 != 1;   // some passes only fill the cache (no logits)
            runner.Forward(tokens.AsSpan(position, rows), slots, positions, wanted ? [rows - 1] : []);
            position += rows;
            if (!wanted) continue;
            float[] expected = FullForwardLastLogits(model, tokens[..position]);
            float[] actual = runner.Logits(0).ToArray();
            float scale = expected.Max(Math.Abs);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * Math.Max(1f, scale),
                    $"position {position - 1}, logit {i}: cached {actual[i]} vs full {expected[i]}");
        }
    }

    [Theory]
    [InlineData(64, 4)]   // head size 16: the 512-bit path of the one-row attention
    [InlineData(48, 6)]   // 8: the 256-bit path
    [InlineData(60, 6)]   // 10: the plain loops
    public void BatchedDecodeFarIntoTheContext_LogitsMatchFullForward(int hidden, int heads)
    {
        // decode reads the cache position by position for all heads at once, 64 positions per work item: three
        // sequences at different positions, each past several such ranges, against a full forward of each sequence
        var config = new TokenFormerConfig
        {
            NumLayers = 2, HiddenSize = hidden, NumAttentionHeads = heads, QkvSlotNum = 24, ProjSlotNum = 24, FfnSlotNum = 48,
            MaxPositionEmbeddings = 200, VocabSize = 61,
        };
        var model = new TokenFormerModel(config);
        model.InitializeRandom(3);
        int[] lengths = [150, 131, 97];
        int[][] tokens = lengths.Select((n, i) => RandomTokens(n, model.Vocab, 40 + i)).ToArray();
        var runner = new IncrementalRunner(model, maxBatch: 3, maxLength: 200, maxRows: 160);
        // each prompt filled up to 20 positions before its end (a multi-row pass), then all three decoded together
        for (int s = 0; s < 3; s++)
        {
            int rows = lengths[s] - 20;
            runner.Forward(tokens[s].AsSpan(0, rows), Enumerable.Repeat(s, rows).ToArray(), Enumerable.Range(0, rows).ToArray(), []);
        }
        for (int step = 20; step > 0; step--)
        {
            int[] positions = lengths.Select(n => n - step).ToArray();
            int[] ids = positions.Select((p, s) => tokens[s][p]).ToArray();
            runner.Forward(ids, [0, 1, 2], positions, [0, 1, 2]);
            if (step % 7 != 1) continue;
            for (int s = 0; s < 3; s++)
            {
                float[] expected = FullForwardLastLogits(model, tokens[s][..(positions[s] + 1)]);
                float[] actual = runner.Logits(s).ToArray();
                float scale = expected.Max(Math.Abs);
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * Math.Max(1f, scale),
                        $"sequence {s} at position {positions[s]}, logit {i}: cached {actual[i]} vs full {expected[i]}");
            }
        }
    }

    [Theory]
    [InlineData("l2gelu_d72_h3")]
    [InlineData("softmax_small")]
    [InlineData("gelul2_h4_odd_n")]
    public void BatchOfPromptsOfDifferentLengths_EqualsEachAlone(string name)
    {
        TokenFormerModel model = Load(name);
        int[][] prompts = [RandomTokens(9, model.Vocab, 1), RandomTokens(1, model.Vocab, 2), RandomTokens(4, model.Vocab, 3)];
        foreach (SamplingOptions options in new[]
        {
            new SamplingOptions { MaxNewTokens = 12, Temperature = 0 },
            new SamplingOptions { MaxNewTokens = 12, Temperature = 0.9f, TopK = 20, TopP = 0.95f, RepetitionPenalty = 1.3f, Seed = 42 },
        })
        {
            var batched = new Generator(model, maxBatch: 3, maxLength: 32);
            var streamed = new List<(int Prompt, int Token)>();
            int[][] together = batched.Generate(prompts, options, (i, t) => { streamed.Add((i, t)); return true; });
            var alone = new Generator(model, maxBatch: 1, maxLength: 32);
            for (int i = 0; i < prompts.Length; i++)
            {
                int[] single = alone.Generate([prompts[i]], options)[0];
                Assert.Equal(single, together[i]);
                Assert.Equal(single, streamed.Where(s => s.Prompt == i).Select(s => s.Token).ToArray());
            }
        }
    }

    [Fact]
    public void SequenceCancel_EndsOneSequenceBeforeItsNextStep_AndTheOthersMatchAlone()
    {
        TokenFormerModel model = Load("l2gelu_d72_h3");
        int[][] prompts = [RandomTokens(5, model.Vocab, 21), RandomTokens(3, model.Vocab, 22), RandomTokens(6, model.Vocab, 23)];
        var options = new SamplingOptions { MaxNewTokens = 12, Temperature = 0 };
        var g = new Generator(model, maxBatch: 3, maxLength: 32);
        using var second = new CancellationTokenSource();
        CancellationToken[] cancel = [CancellationToken.None, second.Token, CancellationToken.None];
        long stepsBefore = g.DecodeSteps;
        int secondTokens = 0;
        long stepsAtCancel = -1;
        int[][] together = g.Generate(prompts, options, (i, t) =>
        {
            // sequence 1 is "disconnected" while its 4th token is produced: it must take no further decode step
            if (i == 1 && ++secondTokens == 4) { second.Cancel(); stepsAtCancel = g.DecodeSteps - stepsBefore; }
            return true;
        }, default, cancel);
        Assert.Equal(11, g.DecodeSteps - stepsBefore);   // the prefill gives the first token, 11 decode steps the rest
        Assert.Equal(3, stepsAtCancel);
        Assert.Equal(4, together[1].Length);
        Assert.Equal(new[] { "length", "cancelled", "length" }, g.LastFinishReasons);
        var alone = new Generator(model, maxBatch: 1, maxLength: 32);
        Assert.Equal(alone.Generate([prompts[0]], options)[0], together[0]);
        Assert.Equal(alone.Generate([prompts[2]], options)[0], together[2]);
        Assert.Equal(alone.Generate([prompts[1]], options)[0][..4], together[1]);
        Assert.Throws<ArgumentException>(() => g.Generate(prompts, options, null, default, [CancellationToken.None]));
    }

    [Fact]
    public void Sampling_IsDeterministicForASeed_AndTemperatureZeroIsGreedy()
    {
        TokenFormerModel model = Load("l2gelu_d72_h3");
        int[] prompt = RandomTokens(5, model.Vocab, 9);
        var g = new Generator(model, maxBatch: 1, maxLength: 40);
        var sampled = new SamplingOptions { MaxNewTokens = 20, Temperature = 1.5f, Seed = 7 };
        int[] a = g.Generate([prompt], sampled)[0];
        int[] b = g.Generate([prompt], sampled)[0];
        int[] c = g.Generate([prompt], sampled with { Seed = 8 })[0];
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        int[] greedy = g.Generate([prompt], new SamplingOptions { MaxNewTokens = 20, Temperature = 0, Seed = 1 })[0];
        int[] greedyOtherSeed = g.Generate([prompt], new SamplingOptions { MaxNewTokens = 20, Temperature = 0, Seed = 2 })[0];
        int[] topOne = g.Generate([prompt], new SamplingOptions { MaxNewTokens = 20, Temperature = 1f, TopK = 1, Seed = 3 })[0];
        Assert.Equal(greedy, greedyOtherSeed);
        Assert.Equal(greedy, topOne);
    }

    [Fact]
    public void StopIds_EndTheSequence_AndAreReportedButNotReturned()
    {
        TokenFormerModel model = Load("softmax_small");
        int[] prompt = RandomTokens(4, model.Vocab, 4);
        var g = new Generator(model, maxBatch: 2, maxLength: 40);
        int[] free = g.Generate([prompt], new SamplingOptions { MaxNewTokens = 10, Temperature = 0 })[0];
        int stop = free[3];
        int firstStop = Array.IndexOf(free, stop);
        var reported = new List<int>();
        int[] stopped = g.Generate([prompt], new SamplingOptions { MaxNewTokens = 10, Temperature = 0, StopIds = [stop] },
            (_, t) => { reported.Add(t); return true; })[0];
        Assert.Equal(free[..firstStop], stopped);
        Assert.Equal(free[..(firstStop + 1)], reported);
        Assert.Equal("stop", g.LastFinishReasons[0]);

        // onToken returning false stops only that sequence (its token is kept)
        int[][] two = g.Generate([prompt, prompt], new SamplingOptions { MaxNewTokens = 10, Temperature = 0 }, (i, _) => i != 0);
        Assert.Equal(free[..1], two[0]);
        Assert.Equal(free, two[1]);
        Assert.Equal(["stop", "length"], g.LastFinishReasons);
    }

    [Fact]
    public void BadRequests_ThrowArgumentExceptionsWithTheNumbers()
    {
        TokenFormerModel model = Load("softmax_small");
        var g = new Generator(model, maxBatch: 2, maxLength: 16);
        var e = Assert.Throws<ArgumentException>(() => g.Generate([RandomTokens(10, model.Vocab, 1)], new SamplingOptions { MaxNewTokens = 7 }));
        Assert.Contains("10", e.Message);
        Assert.Contains("17", e.Message);
        Assert.Contains("16", e.Message);
        e = Assert.Throws<ArgumentException>(() => g.Generate([[1], [2], [3]], new SamplingOptions()));
        Assert.Contains("3 prompts", e.Message);
        e = Assert.Throws<ArgumentException>(() => g.Generate([[model.Vocab]], new SamplingOptions { MaxNewTokens = 1 }));
        Assert.Contains("vocabulary", e.Message);
        Assert.Equal("TopP", Assert.Throws<InvalidSettingException>(() => g.Generate([[1]], new SamplingOptions { TopP = 0 })).Setting);
        Assert.Equal("Temperature", Assert.Throws<InvalidSettingException>(() => g.Generate([[1]], new SamplingOptions { Temperature = -1 })).Setting);
        Assert.Throws<ArgumentException>(() => g.Generate([[]], new SamplingOptions()));
        Assert.Throws<ArgumentException>(() => new Generator(model, maxBatch: 1, maxLength: model.Config.MaxPositionEmbeddings + 1));
        Assert.Throws<OperationCanceledException>(() => g.Generate([[1]], new SamplingOptions { MaxNewTokens = 3 }, cancel: new CancellationToken(true)));
        Assert.Empty(g.Generate([[1, 2]], new SamplingOptions { MaxNewTokens = 0 })[0]);
    }
}
