using TokenFormer.Model.Training;

namespace TokenFormer.Model.Tests.Training;

// After the namespace line, so that Fixtures means the shared training data rather than this project's Fixtures class.
using Fixtures = TokenFormer.TestSupport.TrainingFixtures;

/// <summary>The token streams and options the growth-training tests train a tiny grown model with.</summary>
internal static class GrowthTrainingData
{
    public static int[] Ids => Fixtures.Tokenizer.Encode(Fixtures.Text + Fixtures.Text).Append(0).ToArray();
    public static ITokenSource TrainSource => new ArrayTokenSource(Ids[..^200]);
    public static ITokenSource ValSource => new ArrayTokenSource(Ids[^200..]);

    public static TrainingOptions Options(long steps) => new()
    {
        Steps = steps, Batch = 2, Sequence = 16, LearningRate = 3e-3, MinLearningRate = 3e-4, Warmup = 1,
        EvalEvery = 3, EvalWindows = 5, SaveEvery = 2, KeepLast = 0, LogEvery = 1,
    };
}
