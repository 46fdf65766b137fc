using TokenFormer.Model.Training;

namespace TokenFormer.Model.Distributed;

/// <summary>
/// The α–β cost model of data-parallel training (docs/distributed.md, "Cost model"): weak scaling (a fixed number of
/// tokens per node and step), a ring allreduce of the float32 gradients, t(M) = 2(N−1)·α + 2(N−1)/N · M/B, and the
/// backward pass (2/3 of a step's compute) hiding the reduction of the layers' gradients when buckets overlap it; the
/// tied embedding's gradient is final only at the end of the backward pass, so its reduction is always exposed.
/// Efficiency = compute / (compute + exposed communication); the optimiser, the same on one node, is left out.
/// </summary>
public static class ScalingModel
{
    /// <summary>One prediction.</summary>
    public sealed record Point(int Nodes, double ComputeSeconds, double AllreduceSeconds, double ExposedSeconds, double Efficiency);

    /// <summary>Ring allreduce time of <paramref name="bytes"/> over <paramref name="nodes"/> nodes: 2(N−1)·α + 2(N−1)/N · bytes/B.</summary>
    public static double RingAllreduce(double bytes, int nodes, double alphaSeconds, double bytesPerSecond) =>
        nodes <= 1 ? 0 : 2.0 * (nodes - 1) * alphaSeconds + 2.0 * (nodes - 1) / nodes * bytes / bytesPerSecond;

    /// <summary>
    /// Predicted step of <paramref name="config"/> on <paramref name="nodes"/> nodes of <paramref name="nodeFlops"/>
    /// FLOP/s each, <paramref name="tokensPerNode"/> tokens per node and step at sequence <paramref name="sequence"/>,
    /// links of <paramref name="bytesPerSecond"/> and per-message latency <paramref name="alphaSeconds"/>.
    /// </summary>
    public static Point Predict(TokenFormerConfig config, int sequence, double tokensPerNode, double nodeFlops, int nodes,
        double alphaSeconds, double bytesPerSecond, bool overlap)
    {
        double compute = TrainingFlops.PerToken(config, sequence) * tokensPerNode / nodeFlops;
        double parameters = TrainingFlops.NonEmbeddingParameters(config) + (double)config.Vocab * config.HiddenSize + 2.0 * config.HiddenSize;
        double embedding = 4.0 * config.Vocab * config.HiddenSize, layers = 4.0 * parameters - embedding;
        double whole = RingAllreduce(4.0 * parameters, nodes, alphaSeconds, bytesPerSecond);
        double exposed = !overlap ? whole
            : RingAllreduce(embedding, nodes, alphaSeconds, bytesPerSecond)
              + Math.Max(0, RingAllreduce(layers, nodes, alphaSeconds, bytesPerSecond) - 2.0 / 3.0 * compute);
        return new Point(nodes, compute, whole, exposed, compute / (compute + exposed));
    }
}
