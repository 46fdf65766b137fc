namespace TokenFormer.Model;

/// <summary>Pattention's non-linear normaliser Θ (config field <c>norm_activation_type</c>, docs/architecture.md, Pattention).</summary>
public enum NormActivation
{
    /// <summary><c>l2_norm_gelu</c>: S = GeLU(A·τ/‖A‖₂) (the official default).</summary>
    L2NormGelu,
    /// <summary><c>gelu_l2_norm</c>: G = GeLU(A), S = G·τ/‖G‖₂.</summary>
    GeluL2Norm,
    /// <summary><c>softmax</c>: S = n·softmax(A) (exp, divide by the L1 norm, times n).</summary>
    Softmax,
}

/// <summary>Config-file names of <see cref="NormActivation"/>.</summary>
public static class NormActivations
{
    /// <summary>The name used in config.json.</summary>
    public static string Name(NormActivation a) => a switch
    {
        NormActivation.L2NormGelu => "l2_norm_gelu",
        NormActivation.GeluL2Norm => "gelu_l2_norm",
        NormActivation.Softmax => "softmax",
        _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    /// <summary>Parses a config-file name; returns false when unknown.</summary>
    public static bool TryParse(string? s, out NormActivation a)
    {
        switch (s)
        {
            case "l2_norm_gelu": a = NormActivation.L2NormGelu; return true;
            case "gelu_l2_norm": a = NormActivation.GeluL2Norm; return true;
            case "softmax": a = NormActivation.Softmax; return true;
            default: a = default; return false;
        }
    }
}
