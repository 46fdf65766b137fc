using TokenFormer.Model.Inference;

namespace TokenFormer.Model.Tests.Inference;

/// <summary>
/// <see cref="SharedPrefix"/>: a prefix run once in one slot and shared, layer by layer, with other slots whose
/// continuations run in the same call (or a later one) gives each continuation the logits of a full forward over
/// prefix + continuation.
/// </summary>
public class SharedPrefixTests
{
    /// <summary>Logits at every position of <paramref name="sequence"/> by a full forward: [T·V].</summary>
    private static float[] FullForward(TokenFormerModel model, int[] sequence)
    {
        var runner = new ModelRunner(model, 1, sequence.Length, training: false);
        runner.Forward(sequence);
        return runner.Logits.ToArray();
    }

    [Theory]
    [MemberData(nameof(GeneratorTests.AllModels), MemberType = typeof(GeneratorTests))]
    public void ContinuationsOfASharedPrefix_MatchFullForwards_InTheSameCallOrALater(string name)
    {
        TokenFormerModel model = GeneratorTests.Load(name);
        int v = model.Vocab;
        int[] prefix = GeneratorTests.RandomTokens(9, v, 3);
        int[][] tails = [GeneratorTests.RandomTokens(5, v, 4), GeneratorTests.RandomTokens(3, v, 5)];
        foreach (bool sameCall in new[] { true, false })
        {
            var runner = new IncrementalRunner(model, maxBatch: 3, maxLength: 16, maxRows: 32, maxLogitRows: 32);
            var tokens = new List<int>(); var slots = new List<int>(); var positions = new List<int>();
            void Add(int[] ids, int slot, int from) { for (int i = 0; i < ids.Length; i++) { tokens.Add(ids[i]); slots.Add(slot); positions.Add(from + i); } }
            Add(prefix, 0, 0);
            if (!sameCall)
            {
                runner.Forward(tokens.ToArray(), slots.ToArray(), positions.ToArray(), []);
                tokens.Clear(); slots.Clear(); positions.Clear();
            }
            int first = tokens.Count;
            Add(tails[0], 1, prefix.Length);
            Add(tails[1], 2, prefix.Length);
            int[] logitRows = Enumerable.Range(first, tokens.Count - first).ToArray();
            runner.Forward(tokens.ToArray(), slots.ToArray(), positions.ToArray(), logitRows,
                [new SharedPrefix(0, 1, prefix.Length), new SharedPrefix(0, 2, prefix.Length)]);
            int logit = 0;
            foreach (int[] tail in tails)
            {
                float[] full = FullForward(model, [.. prefix, .. tail]);
                for (int t = 0; t < tail.Length; t++, logit++)
                {
                    float[] actual = runner.Logits(logit).ToArray();
                    ReadOnlySpan<float> expected = full.AsSpan((prefix.Length + t) * v, v);
                    float scale = 0; foreach (float e in expected) scale = Math.Max(scale, Math.Abs(e));
                    for (int i = 0; i < v; i++)
                        Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * Math.Max(1f, scale),
                            $"{name}, same call {sameCall}, tail position {t}, logit {i}: shared {actual[i]} vs full {expected[i]}");
                }
            }
        }
    }

    [Fact]
    public void BadShares_AreRefusedWithWhatIsWrong()
    {
        TokenFormerModel model = GeneratorTests.Load("softmax_small");
        var runner = new IncrementalRunner(model, maxBatch: 3, maxLength: 8);
        int[] tokens = [1, 2], slots = [1, 1], positions = [4, 5];
        string Refused(params SharedPrefix[] shared) =>
            Assert.Throws<ArgumentException>(() => runner.Forward(tokens, slots, positions, [], shared)).Message;
        Assert.Contains("[0, 3)", Refused(new SharedPrefix(0, 3, 4)));
        Assert.Contains("same slot", Refused(new SharedPrefix(1, 1, 4)));
        Assert.Contains("Length", Refused(new SharedPrefix(0, 1, 0)));
        Assert.Contains("Length", Refused(new SharedPrefix(0, 1, 9)));
        Assert.Contains("target of another share", Refused(new SharedPrefix(0, 1, 4), new SharedPrefix(2, 1, 4)));
        Assert.Contains("itself the target", Refused(new SharedPrefix(0, 1, 4), new SharedPrefix(1, 2, 4)));
        string inside = Refused(new SharedPrefix(0, 1, 5));
        Assert.Contains("row 0 (slot 1, position 4)", inside);
        Assert.Contains("5 positions", inside);
        runner.Forward(tokens, slots, positions, [], [new SharedPrefix(0, 1, 4)]);   // the prefix ends where the rows begin
    }
}
