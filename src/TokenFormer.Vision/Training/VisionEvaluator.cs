using TokenFormer.Vision.Data;

namespace TokenFormer.Vision.Training;

/// <summary>Accuracy, mean loss, per-class accuracy and the confusion matrix of a model on a dataset.</summary>
public sealed record VisionEvaluation(int Count, double Loss, double Accuracy, long[,] Confusion, string[] ClassNames)
{
    /// <summary>Accuracy of each true class (NaN for a class with no images).</summary>
    public double[] PerClassAccuracy()
    {
        int k = Confusion.GetLength(0);
        var acc = new double[k];
        for (int i = 0; i < k; i++)
        {
            long total = 0;
            for (int j = 0; j < k; j++) total += Confusion[i, j];
            acc[i] = total == 0 ? double.NaN : (double)Confusion[i, i] / total;
        }
        return acc;
    }
}

/// <summary>Runs a <see cref="VisionNetwork"/> over a dataset in batches (the last one padded and masked).</summary>
public static class VisionEvaluator
{
    /// <summary>Evaluates <paramref name="net"/>'s model on every image of <paramref name="data"/> (up to <paramref name="limit"/>, 0 = all).</summary>
    public static VisionEvaluation Evaluate(VisionNetwork net, ImageDataset data, int limit = 0)
    {
        VisionConfig c = net.Model.Config;
        int B = net.Batch, k = c.NumClasses, n = limit > 0 ? Math.Min(limit, data.Count) : data.Count;
        var builder = new BatchBuilder(c);
        var images = new float[B * c.Channels * c.ImageSize * c.ImageSize];
        var labels = new int[B];
        var mask = new float[B];
        var indices = new int[B];
        var confusion = new long[k, k];
        double lossSum = 0;
        long correct = 0;
        for (int start = 0; start < n; start += B)
        {
            int count = Math.Min(B, n - start);
            for (int b = 0; b < B; b++) { indices[b] = b < count ? start + b : start; mask[b] = b < count ? 1 : 0; }
            builder.Fill(data, indices, images, labels, null, 0, false);
            net.Forward(images);
            lossSum += net.Loss(labels, mask) * (double)count;
            for (int b = 0; b < count; b++)
            {
                ReadOnlySpan<float> l = net.Logits.AsSpan(b * k, k);
                int best = 0;
                for (int j = 1; j < k; j++) if (l[j] > l[best]) best = j;
                confusion[labels[b], best]++;
                if (best == labels[b]) correct++;
            }
        }
        return new VisionEvaluation(n, lossSum / Math.Max(n, 1), (double)correct / Math.Max(n, 1), confusion, data.ClassNames);
    }
}
