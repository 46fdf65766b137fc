using System.Diagnostics;
using TokenFormer.Model;
using TokenFormer.Model.Optimizer;

namespace TokenFormer.Cli.Quickstart;

/// <summary>
/// Measures the wall time of one training step (forward, backward and an AdamW update) of a model shape on random
/// tokens, so that step counts can be planned for a time budget and then fixed (and printed) before training starts.
/// </summary>
public static class StepTimer
{
    /// <summary>
    /// Seconds per step of <paramref name="config"/> (vocab_size set) at <paramref name="batch"/> ×
    /// <paramref name="sequence"/> tokens over <paramref name="timed"/> steps after two untimed warm-up steps: the
    /// fastest (an optimistic plan that a moment of load on a shared machine does not spoil; the run re-plans later)
    /// and the median. Uses a throwaway model; nothing the run trains is touched.
    /// </summary>
    public static (double Fastest, double Median) SecondsPerStep(TokenFormerConfig config, int batch, int sequence, int timed = 5)
    {
        var model = new TokenFormerModel(config);
        model.InitializeRandom(1);
        var runner = new ModelRunner(model, batch, sequence, training: true);
        var adam = new AdamW(model.Layout);
        var rng = new Random(7);
        int[] tokens = new int[batch * sequence], targets = new int[batch * sequence];
        for (int i = 0; i < tokens.Length; i++) { tokens[i] = rng.Next(model.Vocab); targets[i] = rng.Next(model.Vocab); }
        var times = new double[timed];
        for (int s = -2; s < timed; s++)
        {
            long start = Stopwatch.GetTimestamp();
            runner.Forward(tokens, targets, default, computeGradient: true);
            runner.Backward();
            adam.Update(model.Parameters, runner.Gradients!, 0f);
            if (s >= 0) times[s] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(times);
        return (times[0], times[timed / 2]);
    }
}
