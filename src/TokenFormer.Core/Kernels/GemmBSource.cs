namespace TokenFormer.Core.Kernels;

/// <summary>
/// A B operand the GEMM does not read as float32 but asks to pack: op(B)[pc..pc+kc, jc..jc+nc] into the blocked
/// loop's panel layout (<see cref="GemmPacking"/>: panels of nr columns, element (p, j) at (j / nr)·kc·nr + p·nr +
/// j % nr, columns past the edge zero). Reduced-precision weights widen to float32 here, in the block that is packed
/// anyway, instead of in a separate pass (<see cref="ReducedPacking"/>). Called from several threads at once.
/// </summary>
internal unsafe interface IGemmBSource
{
    /// <summary>Packs op(B)[pc..pc+kc, jc..jc+nc] into <paramref name="dst"/> in panels of <paramref name="nr"/> columns.</summary>
    void PackB(int pc, int jc, int kc, int nc, int nr, float* dst);
}
