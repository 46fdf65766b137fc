using TokenFormer.Model.Growth;

namespace TokenFormer.Model.Training;

/// <summary>
/// Parameters held fixed during training (<c>train --freeze-old</c>: everything a grown model had before its newest
/// growth step). Their gradients are zeroed before the gradient norm is taken (so clipping sees only the trained
/// parameters), and after each optimiser update their values are written back from a copy taken at the start, so they
/// stay bit-identical: neither the Adam step nor weight decay changes them.
/// </summary>
public sealed class FrozenParameters
{
    private readonly ParameterRange[] _ranges;
    private readonly float[] _values;

    /// <summary>The frozen ranges of the parameter arena.</summary>
    public IReadOnlyList<ParameterRange> Ranges => _ranges;
    /// <summary>Number of frozen floats.</summary>
    public long Count => _values.LongLength;

    /// <summary>Freezes <paramref name="ranges"/> of <paramref name="parameters"/> at their current values.</summary>
    public FrozenParameters(float[] parameters, IEnumerable<ParameterRange> ranges)
    {
        _ranges = ranges.ToArray();
        long total = 0;
        foreach (ParameterRange r in _ranges)
        {
            if (r.Offset < 0 || r.Length < 0 || (long)r.Offset + r.Length > parameters.Length)
                throw new ArgumentException($"frozen range [{r.Offset}, {(long)r.Offset + r.Length}) is outside the {parameters.Length} parameters");
            total += r.Length;
        }
        _values = new float[total];
        int at = 0;
        foreach (ParameterRange r in _ranges)
        {
            parameters.AsSpan(r.Offset, r.Length).CopyTo(_values.AsSpan(at, r.Length));
            at += r.Length;
        }
    }

    /// <summary>The old parameters of a grown model (see <see cref="OldParameters"/>).</summary>
    public static FrozenParameters OldOf(TokenFormerModel model) => new(model.Parameters, OldParameters.Ranges(model));

    /// <summary>Sets the gradients of the frozen parameters to zero.</summary>
    public void ZeroGradients(float[] gradients)
    {
        foreach (ParameterRange r in _ranges) gradients.AsSpan(r.Offset, r.Length).Clear();
    }

    /// <summary>Writes the frozen values back into <paramref name="parameters"/>.</summary>
    public void Restore(float[] parameters)
    {
        int at = 0;
        foreach (ParameterRange r in _ranges)
        {
            _values.AsSpan(at, r.Length).CopyTo(parameters.AsSpan(r.Offset, r.Length));
            at += r.Length;
        }
    }
}
