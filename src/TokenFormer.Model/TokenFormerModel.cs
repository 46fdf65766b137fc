using TokenFormer.Core.Memory;
using TokenFormer.Model.Architecture;

namespace TokenFormer.Model;

/// <summary>
/// A TokenFormer language model's configuration and parameters: one contiguous float32 arena laid out by
/// <see cref="ParameterLayout"/> under the official key names. Run it with a <see cref="ModelRunner"/>.
/// </summary>
public sealed class TokenFormerModel
{
    /// <summary>Validated configuration (with <see cref="TokenFormerConfig.VocabSize"/> set).</summary>
    public TokenFormerConfig Config { get; }
    /// <summary>Vocabulary rows V of the tied embedding.</summary>
    public int Vocab { get; }
    /// <summary>Where each tensor lives in <see cref="Parameters"/>.</summary>
    public ParameterLayout Layout { get; }
    /// <summary>All parameters.</summary>
    public float[] Parameters { get; }

    /// <summary>
    /// The bf16/int8 weights of a model stored in reduced precision (docs/quantization.md), which every runner's stack
    /// reads instead of <see cref="Parameters"/> (then empty); null for a float32 model. Such a model runs forward
    /// (generate, score, serve) but does not train.
    /// </summary>
    public ReducedPrecisionWeights? ReducedWeights { get; }

    /// <summary>A model whose weights are <paramref name="weights"/> (bf16, int8 or int4); <see cref="Parameters"/> is empty.</summary>
    public TokenFormerModel(TokenFormerConfig config, ReducedPrecisionWeights weights)
    {
        config.Validate();
        Config = config;
        Vocab = config.Vocab;
        Layout = weights.Layout;
        if (Layout.Count != new ParameterLayout(config, Vocab).Count) throw new ArgumentException("the reduced-precision weights were laid out for another config");
        Parameters = [];
        ReducedWeights = weights;
        WeightFormats.Set(config, weights.Format);
    }

    /// <summary>Creates a model with zeroed parameters; <paramref name="config"/> must give vocab_size.</summary>
    public TokenFormerModel(TokenFormerConfig config)
    {
        config.Validate();
        Config = config;
        Vocab = config.Vocab;
        Layout = new ParameterLayout(config, Vocab);
        Parameters = WeightArrays.Allocate<float>(Layout.Count);
    }

    /// <summary>The parameter tensor with official key <paramref name="name"/>; throws when there is none.</summary>
    public Span<float> Tensor(string name)
    {
        ParameterTensor t = Layout.Find(name) ?? throw new KeyNotFoundException($"the model has no parameter '{name}'");
        return Parameters.AsSpan(t.Offset, t.Length);
    }

    /// <summary>
    /// Official initialisation, read from each tensor's role (<see cref="ParameterTensor.InitialStd"/>): embedding and
    /// every key_param_tokens N(0, 0.02²); every value_param_tokens N(0, (2/(L·√d))²) ("wang init"); final LayerNorm
    /// weight 1, bias 0. Deterministic for a seed.
    /// </summary>
    public void InitializeRandom(int seed)
    {
        if (ReducedWeights != null) throw new InvalidOperationException("a reduced-precision model is not initialised in place; use ReducedPrecisionWeights.RandomModel");
        var rng = new Random(seed);
        foreach (ParameterTensor t in Layout.Tensors)
        {
            Span<float> s = Parameters.AsSpan(t.Offset, t.Length);
            double std = t.InitialStd(Config);
            if (double.IsNaN(std)) s.Fill(t.InitialConstant);
            else GaussianFill.Fill(rng, s, std);
        }
    }
}
