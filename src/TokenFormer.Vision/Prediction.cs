using TokenFormer.Vision.Data;

namespace TokenFormer.Vision;

/// <summary>Classifies single images with a <see cref="VisionModel"/>: top-k classes with softmax probabilities.</summary>
public sealed class ImageClassifier
{
    private readonly VisionNetwork _net;
    private readonly BatchBuilder _builder;
    private readonly float[] _input;

    /// <summary>The model.</summary>
    public VisionModel Model { get; }

    /// <summary>A classifier of <paramref name="model"/>.</summary>
    public ImageClassifier(VisionModel model)
    {
        Model = model;
        _net = new VisionNetwork(model, 1);
        _builder = new BatchBuilder(model.Config);
        _input = new float[model.Config.Channels * model.Config.ImageSize * model.Config.ImageSize];
    }

    /// <summary>Softmax probabilities of every class for image bytes [C, S, S] in the model's format.</summary>
    public double[] Probabilities(ReadOnlySpan<byte> image)
    {
        _builder.Normalize(image, _input);
        _net.Forward(_input);
        int k = Model.Config.NumClasses;
        float max = _net.Logits.AsSpan(0, k).ToArray().Max();
        double[] p = new double[k];
        double sum = 0;
        for (int j = 0; j < k; j++) { p[j] = Math.Exp(_net.Logits[j] - max); sum += p[j]; }
        for (int j = 0; j < k; j++) p[j] /= sum;
        return p;
    }

    /// <summary>The <paramref name="topK"/> most probable classes of the image file at <paramref name="path"/> (converted to the model's channels and size).</summary>
    public IReadOnlyList<(int Label, string Name, double Probability)> Classify(string path, int topK)
    {
        byte[] image = ImageLoader.Load(path, Model.Config.Channels, Model.Config.ImageSize);
        double[] p = Probabilities(image);
        return p.Select((v, i) => (i, Model.Config.ClassName(i), v)).OrderByDescending(x => x.v).ThenBy(x => x.i).Take(topK).ToList();
    }
}
