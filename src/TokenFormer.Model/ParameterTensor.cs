namespace TokenFormer.Model;

/// <summary>One named parameter tensor inside the parameter arena: official key, shape, float offset and weight-decay flag.</summary>
public sealed record ParameterTensor(string Name, int[] Shape, int Offset, bool Decay)
{
    /// <summary>Number of floats.</summary>
    public int Length => Shape.Aggregate(1, (a, b) => checked(a * b));
}
