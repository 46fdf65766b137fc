using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TokenFormer.Core.Kernels;

/// <summary>
/// The operations the kernels need from a float vector type, so that one generic body
/// (instantiated with <see cref="Float512"/>, <see cref="Float256"/> or <see cref="Float1"/>) serves every
/// width. Masks are vectors whose lanes are all-ones (true) or all-zeros (false).
/// </summary>
internal unsafe interface IFloatVector<TV> where TV : struct
{
    static abstract int Count { get; }
    static abstract TV Create(float value);
    static abstract TV Load(float* p);
    /// <summary>Count bfloat16 values at p, widened (exactly) to float32.</summary>
    static abstract TV LoadBFloat16(ushort* p);
    /// <summary>Count int8 values at p as float32.</summary>
    static abstract TV LoadInt8(sbyte* p);
    static abstract void Store(TV v, float* p);
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    static abstract TV Divide(TV a, TV b);
    /// <summary>a·b + c with one rounding.</summary>
    static abstract TV MultiplyAdd(TV a, TV b, TV c);
    /// <summary>IEEE minimum (NaN propagates).</summary>
    static abstract TV Min(TV a, TV b);
    /// <summary>IEEE maximum (NaN propagates).</summary>
    static abstract TV Max(TV a, TV b);
    static abstract TV Abs(TV a);
    static abstract TV Sqrt(TV a);
    /// <summary>Round to nearest integer, ties to even.</summary>
    static abstract TV Round(TV a);
    /// <summary>2^n for integral n in [-126, 127].</summary>
    static abstract TV Pow2(TV n);
    /// <summary>
    /// p·2^n where j = n + 1.5·2^23 holds the integer n ∈ [-252, 254] in its low mantissa bits (the result of the
    /// round-by-adding trick); applied as two factors 2^(n>>1)·2^(n−(n>>1)) so subnormal results come out right.
    /// </summary>
    static abstract TV ScaleByPow2(TV p, TV j);
    /// <summary>min(max(x, lo), hi) that lets NaN through (uses the x86 rule that min/max return the second operand on NaN).</summary>
    static abstract TV Clamp(TV x, TV lo, TV hi);
    /// <summary>Maximum for reductions: NaN handling unspecified (the caller makes NaN show up elsewhere).</summary>
    static abstract TV MaxFast(TV a, TV b);
    static abstract TV LessThan(TV a, TV b);
    static abstract TV LessThanOrEqual(TV a, TV b);
    /// <summary>Lanes of <paramref name="ifTrue"/> where the mask is set, else of <paramref name="ifFalse"/>.</summary>
    static abstract TV Select(TV mask, TV ifTrue, TV ifFalse);
    /// <summary>True when no lane of the mask is set.</summary>
    static abstract bool NoneSet(TV mask);
    /// <summary>True when every lane of the mask is set.</summary>
    static abstract bool AllSet(TV mask);
    static abstract float Sum(TV v);
    static abstract float MaxAcross(TV v);
}

/// <summary>Vector512 float lanes (AVX-512).</summary>
internal readonly unsafe struct Float512 : IFloatVector<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Create(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadBFloat16(ushort* p) => Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load(p)), 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadInt8(sbyte* p) => Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> a) => Vector512.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Pow2(Vector512<float> n) =>
        Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ScaleByPow2(Vector512<float> p, Vector512<float> j)
    {
        Vector512<int> n = j.AsInt32() - Vector512.Create(FloatVectorConstants.MagicBits);
        Vector512<int> n1 = Vector512.ShiftRightArithmetic(n, 1);
        Vector512<int> bias = Vector512.Create(127);
        Vector512<float> s1 = Vector512.ShiftLeft(n1 + bias, 23).AsSingle();
        Vector512<float> s2 = Vector512.ShiftLeft(n - n1 + bias, 23).AsSingle();
        return p * s1 * s2;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Clamp(Vector512<float> x, Vector512<float> lo, Vector512<float> hi) =>
        Avx512F.Min(hi, Avx512F.Max(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MaxFast(Vector512<float> a, Vector512<float> b) => Avx512F.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LessThanOrEqual(Vector512<float> a, Vector512<float> b) => Vector512.LessThanOrEqual(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Select(Vector512<float> mask, Vector512<float> ifTrue, Vector512<float> ifFalse) => Vector512.ConditionalSelect(mask, ifTrue, ifFalse);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool NoneSet(Vector512<float> mask) => mask.ExtractMostSignificantBits() == 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool AllSet(Vector512<float> mask) => mask.ExtractMostSignificantBits() == 0xFFFF;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> v) => Vector256.Sum(v.GetLower() + v.GetUpper());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> v) => Float256.MaxAcross(Vector256.Max(v.GetLower(), v.GetUpper()));
}

/// <summary>Vector256 float lanes (AVX2 + FMA).</summary>
internal readonly unsafe struct Float256 : IFloatVector<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Create(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadBFloat16(ushort* p) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(p), 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadInt8(sbyte* p) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> a) => Vector256.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Pow2(Vector256<float> n) =>
        Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ScaleByPow2(Vector256<float> p, Vector256<float> j)
    {
        Vector256<int> n = j.AsInt32() - Vector256.Create(FloatVectorConstants.MagicBits);
        Vector256<int> n1 = Vector256.ShiftRightArithmetic(n, 1);
        Vector256<int> bias = Vector256.Create(127);
        Vector256<float> s1 = Vector256.ShiftLeft(n1 + bias, 23).AsSingle();
        Vector256<float> s2 = Vector256.ShiftLeft(n - n1 + bias, 23).AsSingle();
        return p * s1 * s2;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Clamp(Vector256<float> x, Vector256<float> lo, Vector256<float> hi) =>
        Avx.Min(hi, Avx.Max(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MaxFast(Vector256<float> a, Vector256<float> b) => Avx.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LessThanOrEqual(Vector256<float> a, Vector256<float> b) => Vector256.LessThanOrEqual(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Select(Vector256<float> mask, Vector256<float> ifTrue, Vector256<float> ifFalse) => Vector256.ConditionalSelect(mask, ifTrue, ifFalse);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool NoneSet(Vector256<float> mask) => mask.ExtractMostSignificantBits() == 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool AllSet(Vector256<float> mask) => mask.ExtractMostSignificantBits() == 0xFF;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> v) => Vector256.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> v)
    {
        Vector128<float> m = Vector128.Max(v.GetLower(), v.GetUpper());
        float r = m[0];
        for (int i = 1; i < Vector128<float>.Count; i++) r = MathF.Max(r, m[i]);
        return r;
    }
}

/// <summary>A single float lane: the scalar fallback, and the scalar entry points of <see cref="Activations"/>.</summary>
internal readonly unsafe struct Float1 : IFloatVector<float>
{
    private static readonly float True = BitConverter.Int32BitsToSingle(-1);

    public static int Count => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Create(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float* p) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LoadBFloat16(ushort* p) => BitConverter.Int32BitsToSingle(*p << 16);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LoadInt8(sbyte* p) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float v, float* p) => *p = v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Subtract(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Multiply(float a, float b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Divide(float a, float b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MultiplyAdd(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Min(float a, float b) => MathF.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float a, float b) => MathF.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float a) => MathF.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float a) => MathF.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Round(float a) => MathF.Round(a, MidpointRounding.ToEven);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Pow2(float n) => BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScaleByPow2(float p, float j)
    {
        int n = BitConverter.SingleToInt32Bits(j) - FloatVectorConstants.MagicBits;
        int n1 = n >> 1;
        return p * BitConverter.Int32BitsToSingle((n1 + 127) << 23) * BitConverter.Int32BitsToSingle((n - n1 + 127) << 23);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Clamp(float x, float lo, float hi) => float.IsNaN(x) ? x : MathF.Min(MathF.Max(x, lo), hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxFast(float a, float b) => MathF.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LessThan(float a, float b) => a < b ? True : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LessThanOrEqual(float a, float b) => a <= b ? True : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Select(float mask, float ifTrue, float ifFalse) => BitConverter.SingleToInt32Bits(mask) != 0 ? ifTrue : ifFalse;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool NoneSet(float mask) => BitConverter.SingleToInt32Bits(mask) == 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool AllSet(float mask) => BitConverter.SingleToInt32Bits(mask) != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float v) => v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(float v) => v;
}

/// <summary>Constants of the round-by-adding trick shared by the vector types.</summary>
internal static class FloatVectorConstants
{
    /// <summary>1.5·2^23: adding it to |v| &lt; 2^22 rounds v to an integer held in the low mantissa bits.</summary>
    public const float Magic = 12582912f;
    /// <summary>The bit pattern of <see cref="Magic"/>.</summary>
    public const int MagicBits = 0x4B400000;
}
