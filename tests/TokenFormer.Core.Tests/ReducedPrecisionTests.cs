using TokenFormer.Core.Kernels;

namespace TokenFormer.Core.Tests;

/// <summary>bf16, blocked int8 and blocked 4-bit: conversion bounds and every product path against the plain twin.</summary>
public class ReducedPrecisionTests
{
    private static readonly int[] Widths = [1, 3, 17, 31, 32, 33, 63, 65, 100, 777];

    [Fact]
    public void BFloat16_RoundTrip_WithinTwoToTheMinus8_AndRoundsTiesToEven()
    {
        var rng = new Random(3);
        for (int i = 0; i < 100_000; i++)
        {
            float x = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-30, 30)));
            float r = BFloat16.ToFloat(BFloat16.FromFloat(x));
            Assert.True(Math.Abs(r - (double)x) <= BFloat16.RelativeBound * Math.Abs(x) * 1.0000001, $"{x} → {r}");
        }
        // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷: the even neighbour (1) wins; 1 + 3·2⁻⁸ goes up to 1 + 2⁻⁶
        Assert.Equal(1f, BFloat16.ToFloat(BFloat16.FromFloat(1f + 1f / 256)));
        Assert.Equal(1f + 1f / 64, BFloat16.ToFloat(BFloat16.FromFloat(1f + 3f / 256)));
        Assert.Equal(-2.5f, BFloat16.ToFloat(BFloat16.FromFloat(-2.5f)));
        Assert.True(float.IsNaN(BFloat16.ToFloat(BFloat16.FromFloat(float.NaN))));
        Assert.Equal(float.PositiveInfinity, BFloat16.ToFloat(BFloat16.FromFloat(float.PositiveInfinity)));
    }

    [Fact]
    public void Int8_RoundTrip_WithinTheBlockBound_AtAwkwardWidths()
    {
        var rng = new Random(5);
        foreach (int k in Widths)
        {
            float[] x = BlockedRow(rng, k);
            if (k > 40 && k < 64) x.AsSpan(32, 8).Clear(); // zeros inside a block
            var q = new sbyte[k];
            var s = new float[Int8Blocks.BlocksPerRow(k)];
            Assert.Equal(-1, Int8Blocks.QuantizeRow(x, q, s));
            var back = new float[k];
            Int8Blocks.DequantizeRow(q, s, back);
            for (int b = 0; b < s.Length; b++)
            {
                int start = b * 32, end = Math.Min(k, start + 32);
                double max = 0;
                for (int i = start; i < end; i++) max = Math.Max(max, Math.Abs(x[i]));
                for (int i = start; i < end; i++)
                    Assert.True(Math.Abs(back[i] - (double)x[i]) <= Int8Blocks.ErrorBound(max) * 1.0001 + 1e-30,
                        $"k={k} element {i}: {x[i]} → {back[i]} (block max {max})");
                Assert.Contains(q.Skip(start).Take(end - start), v => max == 0 || Math.Abs((int)v) == 127);
            }
        }
    }

    /// <summary>A row of k values whose blocks of 32 differ in magnitude by powers of ten (so one scale per block matters), with an all-zero block when k ≥ 64.</summary>
    private static float[] BlockedRow(Random rng, int k)
    {
        float[] x = new float[k];
        for (int i = 0; i < k; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, (i / 32) % 4 - 2));
        if (k >= 64) x.AsSpan(32, 32).Clear();
        return x;
    }

    [Fact]
    public void Int4_RoundTrip_WithinTheBlockBound_AtAwkwardWidths_AndKeepsEachBlocksExtremeExactly()
    {
        var rng = new Random(6);
        foreach (int k in Widths)
        {
            float[] x = BlockedRow(rng, k);
            if (k > 70) { x[64] = 5f; x[65] = -5f; } // the largest magnitude twice, with opposite signs: one is clamped to +7
            var packed = new byte[Int4Blocks.BytesPerRow(k)];
            var s = new float[Int4Blocks.BlocksPerRow(k)];
            Assert.Equal(-1, Int4Blocks.QuantizeRow(x, packed, s));
            var back = new float[k];
            Int4Blocks.DequantizeRow(packed, s, back);
            // the kernels' vector widening (ReducedMatrix.DequantizeRow) equals this plain twin exactly
            var widened = new float[k];
            ReducedMatrix.Int4(packed, 0, s, 0, 1, k).DequantizeRow(0, widened);
            Assert.Equal(back, widened);
            for (int b = 0; b < s.Length; b++)
            {
                int start = b * 32, end = Math.Min(k, start + 32);
                double max = 0;
                int extreme = start;
                for (int i = start; i < end; i++)
                    if (Math.Abs(x[i]) > max) { max = Math.Abs(x[i]); extreme = i; }
                for (int i = start; i < end; i++)
                {
                    double err = Math.Abs(back[i] - (double)x[i]);
                    Assert.True(err <= Int4Blocks.ErrorBound(max) * 1.0001 + 1e-30, $"k={k} element {i}: {x[i]} → {back[i]} (block max {max})");
                    // beyond half a step only where the value is clamped at +7: the sign opposite to the extreme, past 7.5 steps
                    if (err > max / 16 * 1.0001 + 1e-30)
                        Assert.True(Math.Sign(x[i]) != Math.Sign(x[extreme]) && Math.Abs(x[i]) > max * 7.5 / 8 * 0.9999, $"k={k} element {i}: {x[i]} → {back[i]} (block max {max})");
                }
                Assert.Equal(x[extreme], back[extreme]);
                if (k > 70 && b == 2) Assert.Equal(-5f * 7 / 8, back[65]); // the opposite extreme, clamped
                // padding past the row's end is stored as the integer 0
                for (int i = end - start; i < 32; i++) Assert.Equal(0, Int4Blocks.Quant(packed.AsSpan(b * 16, 16), i));
            }
        }
    }

    [Theory]
    [InlineData(ReducedFormat.Int8Block32)]
    [InlineData(ReducedFormat.Int4Block32)]
    public void BlockedQuantize_ReportsTheFirstNonFiniteValue(ReducedFormat format)
    {
        int Quantize(float[] row) => format == ReducedFormat.Int8Block32
            ? Int8Blocks.QuantizeRow(row, new sbyte[40], new float[2])
            : Int4Blocks.QuantizeRow(row, new byte[32], new float[2]);
        float[] x = new float[40];
        x[35] = float.NaN;
        Assert.Equal(35, Quantize(x));
        x[35] = 0; x[3] = float.NegativeInfinity;
        Assert.Equal(3, Quantize(x));
    }

    private static readonly ReducedFormat[] AllFormats = [ReducedFormat.BFloat16, ReducedFormat.Int8Block32, ReducedFormat.Int4Block32];

    public static IEnumerable<object[]> PathsAndFormats() =>
        SimdPaths.Supported().SelectMany(p => AllFormats.Select(f => new object[] { p, f }));

    [Theory]
    [MemberData(nameof(PathsAndFormats))]
    public void Product_MatchesReferenceTwin_AtAwkwardSizes(SimdPath path, ReducedFormat format)
    {
        // every 2–8-row kernel: one row of W at a time (256- and 512-bit int8) and blocked over rows of W (int8 at 512 and 256 bits)
        foreach ((BatchKernelMode mode, bool wide) in new[] { (BatchKernelMode.RowByRow, false), (BatchKernelMode.RowByRow, true), (BatchKernelMode.Blocked, false), (BatchKernelMode.Blocked, true) })
        {
            ReducedProduct.BatchKernel = mode;
            ReducedProduct.UseInt8Dot4V512 = wide;
            ReducedProduct.UseInt8Blocked512 = wide;
            try { ProductMatchesTwin(path, format); }
            finally { ReducedProduct.BatchKernel = BatchKernelMode.Blocked; ReducedProduct.UseInt8Dot4V512 = false; ReducedProduct.UseInt8Blocked512 = true; }
        }
    }

    private static void ProductMatchesTwin(SimdPath path, ReducedFormat format)
    {
        var rng = new Random(7 + (int)path * 10 + (int)format);
        int[] rowCounts = [1, 2, 3, 4, 5, 7, 8, 9, 13, 40];
        int[] outputs = [1, 5, 65, 130];
        foreach (int k in Widths)
            foreach (int n in outputs)
                foreach (int m in rowCounts)
                {
                    if ((long)m * k * n > 400_000 && m > 9) continue;
                    ReducedMatrix w = RandomMatrix(rng, format, n, k);
                    int lda = k + 3, ldc = n + 2, aOff = 5, cOff = 4;
                    float[] a = new float[aOff + m * lda];
                    for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
                    foreach (bool accumulate in new[] { false, true })
                    {
                        float[] c = new float[cOff + m * ldc];
                        for (int i = 0; i < c.Length; i++) c[i] = (float)(rng.NextDouble() - 0.5);
                        float[] expected = (float[])c.Clone();
                        ReducedProductReference.MultiplyTransposed(w, m, a, aOff, lda, expected, cOff, ldc, accumulate);
                        ReducedProduct.Run(w, m, a, aOff, lda, c, cOff, ldc, accumulate, path);
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++)
                            {
                                double scale = 0;
                                for (int q = 0; q < k; q++) scale += Math.Abs(a[aOff + i * lda + q] * w.Value(j, q));
                                int o = cOff + i * ldc + j;
                                Assert.True(Math.Abs(c[o] - expected[o]) <= 2e-6 * scale + 1e-6,
                                    $"{path} {format} m={m} k={k} n={n} accumulate={accumulate}: C[{i},{j}] = {c[o]}, twin {expected[o]}");
                            }
                        // padding between rows of C is untouched
                        if (m > 1) Assert.Equal(expected[cOff + n], c[cOff + n]);
                    }
                }
    }

    [Theory]
    [MemberData(nameof(PathsAndFormats))]
    public void PrefillProduct_PackedFromTheStorage_MatchesTwin_AcrossGemmBlocks(SimdPath path, ReducedFormat format)
    {
        // prefill-sized products go through Core's GEMM, which widens W while packing it: more than one k block (KC = 384,
        // with a partial int8 block at the end), more than one NC block of columns (3072) with a ragged last panel, a
        // split over the threads, and rows of A that are not a whole panel
        var rng = new Random(23 + (int)path * 10 + (int)format);
        foreach ((int m, int k, int n) in new[] { (29, 777, 3109), (12, 800, 70), (140, 64, 33) })
        {
            ReducedMatrix w = RandomMatrix(rng, format, n, k);
            int lda = k + 1, ldc = n + 3;
            float[] a = new float[2 + m * lda];
            for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
            foreach (bool accumulate in new[] { false, true })
            {
                float[] c = new float[1 + m * ldc];
                for (int i = 0; i < c.Length; i++) c[i] = (float)(rng.NextDouble() - 0.5);
                float[] expected = (float[])c.Clone();
                ReducedProductReference.MultiplyTransposed(w, m, a, 2, lda, expected, 1, ldc, accumulate);
                ReducedProduct.Run(w, m, a, 2, lda, c, 1, ldc, accumulate, path);
                var row = new float[k];
                for (int j = 0; j < n; j++)
                {
                    w.DequantizeRow(j, row);
                    for (int i = 0; i < m; i++)
                    {
                        double scale = 0;
                        for (int q = 0; q < k; q++) scale += Math.Abs(a[2 + i * lda + q] * row[q]);
                        int o = 1 + i * ldc + j;
                        Assert.True(Math.Abs(c[o] - expected[o]) <= 2e-6 * scale + 1e-6,
                            $"{path} {format} m={m} k={k} n={n} accumulate={accumulate}: C[{i},{j}] = {c[o]}, twin {expected[o]}");
                    }
                }
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc && 1 + i * ldc + j < c.Length; j++)
                        Assert.Equal(expected[1 + i * ldc + j], c[1 + i * ldc + j]);
            }
        }
    }

    [Fact]
    public void Int8IntegerDotRow_MatchesItsTwin_AtAwkwardSizes()
    {
        var rng = new Random(13);
        Int8DotMode saved = ReducedProduct.Int8Dot;
        try
        {
            ReducedProduct.Int8Dot = Int8DotMode.Integer;
            foreach (SimdPath path in SimdPaths.Supported().Where(p => p != SimdPath.Scalar))
                foreach (int k in Widths)
                    foreach (int n in new[] { 1, 65, 130 })
                    {
                        ReducedMatrix w = RandomMatrix(rng, ReducedFormat.Int8Block32, n, k);
                        float[] a = new float[3 + k];
                        for (int i = 0; i < a.Length; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * (1 + i % 7));
                        foreach (bool accumulate in new[] { false, true })
                        {
                            float[] c = new float[n + 2], expected = new float[n + 2];
                            for (int i = 0; i < c.Length; i++) c[i] = expected[i] = (float)rng.NextDouble();
                            ReducedProductReference.MultiplyTransposedIntegerDot(w, a, 3, expected, 1, accumulate);
                            ReducedProduct.Run(w, 1, a, 3, k, c, 1, n, accumulate, path);
                            for (int j = 0; j < n; j++)
                            {
                                double scale = 0;
                                for (int q = 0; q < k; q++) scale += Math.Abs(a[3 + q] * w.Value(j, q));
                                Assert.True(Math.Abs(c[1 + j] - expected[1 + j]) <= 1e-5 * scale + 1e-6,
                                    $"{path} k={k} n={n} accumulate={accumulate}: C[{j}] = {c[1 + j]}, twin {expected[1 + j]}");
                            }
                            Assert.Equal(expected[0], c[0]);
                            Assert.Equal(expected[n + 1], c[n + 1]);
                        }
                    }
        }
        finally { ReducedProduct.Int8Dot = saved; }
    }

    [Fact]
    public void Multiply_OtherOrientation_MatchesWidenedValues()
    {
        var rng = new Random(11);
        foreach (ReducedFormat format in AllFormats)
        {
            ReducedMatrix w = RandomMatrix(rng, format, 37, 45);
            int m = 3;
            float[] a = new float[m * 37];
            for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
            float[] c = new float[m * 45];
            w.Multiply(m, a, 0, 37, c, 0, 45, accumulate: false);
            for (int i = 0; i < m; i++)
                for (int q = 0; q < 45; q++)
                {
                    double s = 0;
                    for (int j = 0; j < 37; j++) s += a[i * 37 + j] * (double)w.Value(j, q);
                    Assert.True(Math.Abs(c[i * 45 + q] - s) <= 1e-5 * (1 + Math.Abs(s)), $"{format} C[{i},{q}]");
                }
            var column = new float[37];
            w.ReadColumn(4, column);
            for (int j = 0; j < 37; j++) Assert.Equal(w.Value(j, 4), column[j]);
        }
    }

    /// <summary>A random W [n, k] at an offset inside larger arrays (the arena layout), converted from float32.</summary>
    internal static ReducedMatrix RandomMatrix(Random rng, ReducedFormat format, int n, int k)
    {
        const int offset = 9, scaleOffset = 3;
        float[] row = new float[k];
        int blocks = Int8Blocks.BlocksPerRow(k);
        if (format == ReducedFormat.BFloat16)
        {
            var data = new ushort[offset + n * k + 5];
            for (int j = 0; j < n; j++)
            {
                for (int q = 0; q < k; q++) row[q] = (float)(rng.NextDouble() * 2 - 1);
                BFloat16.FromFloat(row, data.AsSpan(offset + j * k, k));
            }
            return ReducedMatrix.BFloat16(data, offset, n, k);
        }
        var scales = new float[scaleOffset + n * blocks + 2];
        if (format == ReducedFormat.Int4Block32)
        {
            int stride = Int4Blocks.BytesPerRow(k);
            var packed = new byte[offset + n * stride + 5];
            for (int j = 0; j < n; j++)
            {
                for (int q = 0; q < k; q++) row[q] = (float)((rng.NextDouble() * 2 - 1) * (1 + q / 32));
                Int4Blocks.QuantizeRow(row, packed.AsSpan(offset + j * stride, stride), scales.AsSpan(scaleOffset + j * blocks, blocks));
            }
            return ReducedMatrix.Int4(packed, offset, scales, scaleOffset, n, k);
        }
        var quants = new sbyte[offset + n * k + 5];
        for (int j = 0; j < n; j++)
        {
            for (int q = 0; q < k; q++) row[q] = (float)((rng.NextDouble() * 2 - 1) * (1 + q / 32));
            Int8Blocks.QuantizeRow(row, quants.AsSpan(offset + j * k, k), scales.AsSpan(scaleOffset + j * blocks, blocks));
        }
        return ReducedMatrix.Int8(quants, offset, scales, scaleOffset, n, k);
    }
}
