using TokenFormer.Model.Architecture;
using TokenFormer.Model.Inference;

namespace TokenFormer.Model.Tests.Inference;

/// <summary>
/// The tied head in vocabulary slices (<see cref="IWeightMatrix.RowRange"/>, <see cref="IncrementalRunner.ComputeLogitSlice"/>):
/// every slice's logits are the matching columns of the whole logits, in every weight format, and misuse is refused.
/// </summary>
public class LogitSliceTests
{
    // d = 48 and a vocabulary of 97: slices of 10 leave a last slice of 7, the int8 blocks a partial block per row
    private static TokenFormerConfig Config() => new()
    {
        NumLayers = 2, HiddenSize = 48, NumAttentionHeads = 3, QkvSlotNum = 40, ProjSlotNum = 24, FfnSlotNum = 72,
        MaxPositionEmbeddings = 64, VocabSize = 97,
    };

    public static IEnumerable<object[]> Formats() => [[WeightFormat.Float32], [WeightFormat.BFloat16], [WeightFormat.Int8], [WeightFormat.Int4]];

    private static TokenFormerModel Model(WeightFormat format)
    {
        var m = new TokenFormerModel(Config());
        m.InitializeRandom(3);
        return format == WeightFormat.Float32 ? m : new TokenFormerModel(Config(), ReducedPrecisionWeights.From(m, format));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void SlicedLogits_AreTheColumnsOfTheWholeLogits(WeightFormat format)
    {
        TokenFormerModel model = Model(format);
        int vocab = model.Vocab;
        // two sequences, 13 and 9 rows; logits of 1 row (one-row kernels), then of 14 (the GEMM)
        int[] tokens = Enumerable.Range(0, 22).Select(i => (i * 31 + 7) % vocab).ToArray();
        int[] slots = Enumerable.Range(0, 22).Select(i => i < 13 ? 0 : 1).ToArray();
        int[] positions = Enumerable.Range(0, 22).Select(i => i < 13 ? i : i - 13).ToArray();
        foreach (int[] logitRows in new[] { new[] { 21 }, Enumerable.Range(8, 14).ToArray() })
        {
            var whole = new IncrementalRunner(model, 2, 32, maxRows: 32, maxLogitRows: 16);
            var sliced = new IncrementalRunner(model, 2, 32, maxRows: 32, maxLogitRows: 16, logitSliceWidth: 10);
            Assert.Equal(0, whole.LogitSlices);
            Assert.Equal(10, sliced.LogitSlices);
            whole.Forward(tokens, slots, positions, logitRows);
            sliced.Forward(tokens, slots, positions, logitRows);
            Assert.Throws<InvalidOperationException>(() => sliced.Logits(0));
            for (int s = sliced.LogitSlices - 1; s >= 0; s--)
            {
                int first = sliced.ComputeLogitSlice(s);
                Assert.Equal(10 * s, first);
                for (int r = 0; r < logitRows.Length; r++)
                {
                    Span<float> part = sliced.Logits(r), all = whole.Logits(r);
                    Assert.Equal(Math.Min(10, vocab - first), part.Length);
                    for (int j = 0; j < part.Length; j++)
                        Assert.True(Math.Abs(part[j] - all[first + j]) <= 1e-5f * (1 + Math.Abs(all[first + j])),
                            $"{format} slice {s} row {r} id {first + j}: {part[j]} vs {all[first + j]}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void RowRange_IsAViewOfThoseRows_AndOutOfRangeIsRefused(WeightFormat format)
    {
        TokenFormerModel model = Model(format);
        IWeightMatrix e = new TokenFormerStack(model).Embedding;
        IWeightMatrix rows = e.RowRange(90, 7);
        Assert.Equal(7, rows.Rows);
        Assert.Equal(e.Columns, rows.Columns);
        float[] expected = new float[e.Columns], actual = new float[e.Columns];
        for (int r = 0; r < 7; r++)
        {
            e.ReadRow(90 + r, expected);
            rows.ReadRow(r, actual);
            Assert.Equal(expected, actual);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => e.RowRange(91, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => e.RowRange(-1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => e.RowRange(0, -1));
    }

    [Fact]
    public void ReducedValueTokens_HaveNoRowRange()
    {
        TokenFormerModel model = Model(WeightFormat.Int8);
        var stack = new TokenFormerStack(model);
        IWeightMatrix values = stack.Blocks[0].Ffn.Values[0];
        var e = Assert.Throws<NotSupportedException>(() => values.RowRange(0, 2));
        Assert.Contains("transposed", e.Message);
    }
}
