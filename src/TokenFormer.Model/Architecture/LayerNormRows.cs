using TokenFormer.Core.Threading;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Architecture;

/// <summary>
/// The parameter-free LayerNorm of the blocks over rows of width d, in parallel row ranges: forward y = x̂ with its
/// rstd per row, backward dx (+)= LN′(dy). One reusable job, so calls allocate nothing. Not thread-safe.
/// </summary>
internal sealed class LayerNormRows(int width, float eps) : IRowWork
{
    private float[] _x = null!, _y = null!, _rstd = null!, _dx = null!;
    private bool _backward, _accumulate;

    /// <summary>y[r] = (x[r] − mean)/√(var + ε), rstd[r] = 1/√(var + ε) for rows [0, rows).</summary>
    public void Forward(int rows, float[] x, float[] y, float[] rstd)
    {
        _x = x; _y = y; _rstd = rstd; _backward = false;
        RowRanges.Run(rows, this);
    }

    /// <summary>dx[r] (+)= LayerNorm backward of dy[r] from the saved x̂ and rstd.</summary>
    public void Backward(int rows, float[] xhat, float[] dy, float[] rstd, float[] dx, bool accumulate)
    {
        _x = xhat; _y = dy; _rstd = rstd; _dx = dx; _backward = true; _accumulate = accumulate;
        RowRanges.Run(rows, this);
    }

    public void Rows(int start, int end)
    {
        for (int r = start; r < end; r++)
        {
            if (_backward)
                LayerNormKernels.BackwardNonParam(_x.AsSpan(r * width, width), _y.AsSpan(r * width, width), _rstd[r], _dx.AsSpan(r * width, width), _accumulate);
            else
                _rstd[r] = LayerNormKernels.ForwardNonParam(_x.AsSpan(r * width, width), _y.AsSpan(r * width, width), eps);
        }
    }
}
